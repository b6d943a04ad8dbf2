"""Team quarterly carbon budgets: consumption, projection, status, threshold notices, chargeback CSV."""
