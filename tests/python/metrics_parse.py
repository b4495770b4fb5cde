"""Parses an OpenMetrics text exposition from stdin with the Prometheus project's own parser
(prometheus_client), strictly, and prints what it found one line each, tab-separated:
`family NAME TYPE` and `sample NAME LABELS VALUE` (LABELS as k=v joined by commas, sorted).
Exits non-zero, with the parser's error, when the text does not parse."""

import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> None:
    text = sys.stdin.read()
    for family in text_string_to_metric_families(text):
        print(f"family\t{family.name}\t{family.type}")
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            print(f"sample\t{sample.name}\t{labels}\t{sample.value!r}")


if __name__ == "__main__":
    main()
