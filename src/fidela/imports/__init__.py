"""Bulk imports of customers, orders, returns and activity from CSV or Parquet files."""
