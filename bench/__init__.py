"""Switchboard's benchmark: a mock upstream, a load generator and a runner.

Nothing here imports Django: the gateway is measured from the outside, as a
client sees it, by starting it with the README's own `daphne` command.
`python -m bench.run` measures throughput, latency, translation, servers,
workers and memory (and LiteLLM with `--peer litellm`); `python -m bench.latency`
measures the latency the gateway adds to one request. See bench/README.md.
"""
