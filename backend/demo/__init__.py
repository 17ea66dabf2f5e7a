"""The seed's blog API, instrumented, with a bounded load generator: obsview's demo."""
