"""Carbon-aware scheduling of deferrable jobs: the planner and the scheduled-jobs API."""
