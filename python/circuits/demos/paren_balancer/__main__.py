"""python -m circuits.demos.paren_balancer: REMIX day 4 part 2's experiments 0 to 2 on the paren
balancer, as a table of loss and fraction of loss recovered."""

import argparse
import time
import warnings

from . import circuit as pc
from .scrub import results


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=4000, help="reference data per experiment")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # FuncSampler warns when a feature value has fewer source data than reference data,
        # which the open-proportion feature often has; the draws are still correct.
        warnings.filterwarnings("ignore", message="not enough unique dataset samples")
        rows = results(n=args.samples, seed=args.seed)
    print(f"paren balancer ({pc.weights_source()}), {args.samples} reference strings")
    print(f"{'experiment':44} {'loss':>7} {'SE':>6} {'recovered':>10}")
    for name, loss, se, frac in rows:
        print(f"{name:44} {loss:7.3f} {se:6.3f} {frac:10.1%}")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
