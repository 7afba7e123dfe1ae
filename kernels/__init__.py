"""Backends. Each module (or package) registers itself with fftbench.registry.register_backend;
the list of modules to import lives in fftbench.registry.BACKEND_MODULES."""
