"""Analytics: RFM, cohorts, KPIs, CLV, churn, recommendations, funnels over one portable layer."""
