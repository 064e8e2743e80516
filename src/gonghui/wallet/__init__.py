"""医保钱包: cross-province family mutual aid of the employee medical-insurance personal account."""
