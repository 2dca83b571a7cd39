"""Pure value types shared by every context: money, points, ids, time, domain errors.

Only the standard library may be imported here (enforced by import-linter).
"""
