"""obsview's agent: collects a service's logs, derives metrics, probes health, raises alerts."""
