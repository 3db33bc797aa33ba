"""Cases and traceability: the case registry, explainable footage-to-case linking, the review queue,
the central case feed and compliance warnings. See docs/cases.md."""
