"""Model lifecycle around the decision engine: versioned training datasets exported from the canonical price
layer with lifecycle labels, and the measured performance of logged decisions against the prices that followed."""
