"""SMART objectives on KPIs: definition, progress, forecast, status and their history."""
