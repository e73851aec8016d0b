"""Supervision (监管) and department decisions (部门决策): enterprise facts, random inspections,
risk scores, indicators and alerts."""
