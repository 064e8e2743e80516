"""Integrated union service positions (融合型工会服务阵地), visits, feedback, evaluation."""
