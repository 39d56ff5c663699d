"""Series stage: git and the patch series.  The only stage that touches git."""
