"""A sweep's (backend, points) tasks spread over lanes, one lane per GPU (--gpus).

Each lane is a thread of the parent that runs one task at a time in an isolated worker pinned to
its GPU, so the parent stays the single writer of results.jsonl. Lanes pull tasks from one queue
in order, so a lane that draws cheap points simply takes more tasks. With more than one lane each
backend's points are dealt into one task per lane, so the tasks cost about the same; with one lane
the tasks are the sweep's own.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Sequence, TypeVar

Task = TypeVar("Task")
Lane = TypeVar("Lane")


class Stopped(Exception):
    """Raised inside a lane's work once `stop` is set: the lane ends quietly."""


def split_tasks(tasks: list[tuple], lanes: int) -> list[tuple]:
    """(backend, points) tasks → up to `lanes` tasks per backend, the points dealt in snake order
    (two lanes: 0,3,4,7,… and 1,2,5,6,…). A suite lists points with the innermost axis varying
    fastest (seqlen's causal then circular): plain round-robin would give one task every causal
    point, which costs twice the circular ones; snake order gives every task each size and mode."""
    if lanes <= 1:
        return list(tasks)

    def lane_of(i: int) -> int:
        turn, seat = divmod(i, lanes)
        return seat if turn % 2 == 0 else lanes - 1 - seat

    return [(backend, [p for i, p in enumerate(points) if lane_of(i) == lane])
            for backend, points in tasks for lane in range(min(lanes, len(points)))]


def run_lanes(tasks: Sequence[Task], lanes: Sequence[Lane], work: Callable[[Task, Lane], None],
              stop: threading.Event) -> None:
    """work(task, lane) for every task, each lane running one task at a time. The first exception of
    any lane, or Ctrl-C, sets `stop`: no lane starts another task, and work that checks `stop`
    raises Stopped; the exception is raised here. One lane runs in this thread."""
    if len(lanes) == 1:
        for task in tasks:
            work(task, lanes[0])
        return
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for task in tasks:
        todo.put(task)
    failures: list[BaseException] = []

    def lane_main(lane):
        while not stop.is_set():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                work(task, lane)
            except Stopped:
                return
            except BaseException as err:  # noqa: BLE001 — re-raised in the parent's thread
                failures.append(err)
                stop.set()

    threads = [threading.Thread(target=lane_main, args=(lane,), name=f"lane-{i}", daemon=True)
               for i, lane in enumerate(lanes)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)  # a timed join keeps Ctrl-C deliverable to this thread
    except KeyboardInterrupt:
        stop.set()  # Ctrl-C also reached the workers: their deaths are not errors to record
        raise
    if failures:
        raise failures[0]
