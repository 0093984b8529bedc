"""Social care: triage, service levels, spikes, alerts and staffing."""
