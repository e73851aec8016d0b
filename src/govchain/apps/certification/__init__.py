"""Proof-free certification matters (证明事项, 免证明): the departments that hold a fact
answer it."""
