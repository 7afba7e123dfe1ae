"""NVML must describe the GPU that CUDA runs on, not NVML's GPU 0 (mocked NVML: no GPU here)."""
from types import SimpleNamespace

import pytest
import torch

from fftbench import environment


class FakeNvml:
    """The slice of pynvml that gpu_state uses, over GPUs listed in NVML's (PCI) order."""

    NVML_CLOCK_SM, NVML_CLOCK_MEM, NVML_TEMPERATURE_GPU = 0, 1, 0

    class NVMLError(Exception):
        pass

    def __init__(self, gpus):
        self.gpus = gpus

    def _find(self, field, value):
        for gpu in self.gpus:
            if gpu[field] == value:
                return gpu
        raise self.NVMLError(f"no GPU with {field} {value}")

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return self._find("uuid", uuid)

    def nvmlDeviceGetHandleByPciBusId(self, bus_id):
        return self._find("bus_id", bus_id)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return handle["reasons"]

    def nvmlDeviceGetClockInfo(self, handle, kind):
        return handle["sm"] if kind == self.NVML_CLOCK_SM else 2619

    def nvmlDeviceGetPowerUsage(self, handle):
        return 400_000

    def nvmlDeviceGetTemperature(self, handle, kind):
        return 50


GPUS = [
    {"uuid": "GPU-aaaaaaaa-0000", "bus_id": "00000000:18:00.0", "sm": 1000, "reasons": 0x8},
    {"uuid": "GPU-bbbbbbbb-1111", "bus_id": "00000000:9A:00.0", "sm": 1980, "reasons": 0},
]


@pytest.fixture
def cuda_sees(monkeypatch):
    """Pretend CUDA's only visible device (CUDA_VISIBLE_DEVICES=1) has the given properties."""
    def see(**props):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
        monkeypatch.setattr(environment, "_nvml", lambda: FakeNvml(GPUS))
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(**props))
    return see


def test_gpu_state_matches_cuda_device_by_uuid(cuda_sees):
    cuda_sees(uuid="bbbbbbbb-1111")  # torch reports the UUID without NVML's "GPU-" prefix
    state = environment.gpu_state()
    assert state["sm_clock_mhz"] == 1980 and not state["throttled"]  # NVML's GPU 0 is throttled at 1000 MHz


def test_gpu_state_falls_back_to_the_pci_bus_id(cuda_sees):
    cuda_sees(uuid="not-known-to-nvml", pci_domain_id=0, pci_bus_id=0x9A, pci_device_id=0)
    assert environment.gpu_state()["sm_clock_mhz"] == 1980


def test_gpu_state_is_empty_rather_than_another_gpus(cuda_sees):
    cuda_sees(uuid="cccccccc-2222")
    assert environment.gpu_state() == {}


def test_a_gpu_is_named_by_nvmls_uuid_everywhere():
    """run.json's gpu_uuid and the rows' (fftbench.gpus) are the "GPU-…" form nvidia-smi prints."""

    assert environment.gpu_uuid(SimpleNamespace(uuid="bbbbbbbb-1111")) == "GPU-bbbbbbbb-1111"
    assert environment.gpu_uuid(SimpleNamespace(uuid="GPU-bbbbbbbb-1111")) == "GPU-bbbbbbbb-1111"
    assert environment.gpu_uuid(SimpleNamespace(uuid="MIG-1")) == "MIG-1"
