"""fftbench: a benchmarking and profiling suite for long FFT convolutions on NVIDIA GPUs."""

__version__ = "0.1.0"
