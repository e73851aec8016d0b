"""Key projects and public-welfare funds (重点项目和公益资金监管): milestones, disbursements,
notarised evidence and anomaly flags with their handling."""
