-- Issue 13. The version behind each brand's own sentiment: the mention's model and the per-brand rules
-- (enrich/brand_sentiment.py), e.g. 'vader-3.3.2+brand-clauses-v1'; NULL where the per-brand label is
-- NULL (the mention names one brand, or was left unscored).
ALTER TABLE mention_brands ADD COLUMN sentiment_model VARCHAR;
