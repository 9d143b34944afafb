"""Pydantic models: the one source of every wire shape. `pas contracts export` writes *.schema.json from them."""
