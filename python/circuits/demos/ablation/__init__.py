"""Ablations and probes on the paren balancer: `python -m circuits.demos.ablation`."""
