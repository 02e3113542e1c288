"""The five fairness audits of the Pareto-teacher paper, each with an offline default scorer."""
