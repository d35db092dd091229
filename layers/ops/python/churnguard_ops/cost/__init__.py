"""Cost reports: Cost Explorer and utilisation -> savings recommendations whose maths can be checked."""
