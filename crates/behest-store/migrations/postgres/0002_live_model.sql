-- The model live traffic uses, set by a deploy, a model publish or PUT .../settings/model.
ALTER TABLE project_settings ADD COLUMN provider_model TEXT;
