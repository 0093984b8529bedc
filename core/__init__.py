"""The ground layer: what every stage shares and nothing of a stage.

`core.mention` (the mention record and its natural key), `core.staging` (the files one run hands
from task to task), `core.errors` (the base exceptions), `core.business_calendar` (business hours
for service-level clocks). Nothing here imports `collectors`, `enrich`, `warehouse`, `care`,
`reports`, `cli` or `dags`; docs/architecture.md draws the layers.
"""
