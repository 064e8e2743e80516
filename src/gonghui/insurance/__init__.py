"""一卡一计划: card balances decide gifted supplementary inpatient insurance; claims online."""
