BEGIN TRANSACTION;
CREATE TABLE bot_requests (
	day DATE NOT NULL, 
	requests INTEGER NOT NULL, 
	PRIMARY KEY (day)
);
CREATE TABLE conversions (
	id INTEGER NOT NULL, 
	visitor_id VARCHAR(32) NOT NULL, 
	goal VARCHAR(40) NOT NULL, 
	path VARCHAR(200) NOT NULL, 
	holdout BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
INSERT INTO "conversions" VALUES(1,'10f07ab377054a3581cd7da7c051d5b2','signup','/signup',1,'2026-11-27 07:13:21.440884');
CREATE TABLE events (
	id INTEGER NOT NULL, 
	event_id VARCHAR(36) NOT NULL, 
	visitor_id VARCHAR(32) NOT NULL, 
	type VARCHAR(10) NOT NULL, 
	page VARCHAR(200) NOT NULL, 
	block VARCHAR(80), 
	variant VARCHAR(80), 
	target VARCHAR(32), 
	depth INTEGER, 
	ms INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_events_visitor_event UNIQUE (visitor_id, event_id), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
INSERT INTO "events" VALUES(1,'23d87165-6a3b-42ff-925b-420b4a5270cd','8793845b1a794aefb35d2ccc80cef2f9','scroll','/',NULL,NULL,NULL,80,NULL,'2026-11-27 07:13:21.415367');
INSERT INTO "events" VALUES(2,'11d51ac0-303d-4921-bfe2-951b55a634f0','8793845b1a794aefb35d2ccc80cef2f9','dwell','/',NULL,NULL,NULL,NULL,12000,'2026-11-27 07:13:21.415367');
INSERT INTO "events" VALUES(3,'c89f92f2-2b7e-4d90-9c96-60c89671551f','05135d47b55b425cae5b962acb538766','scroll','/',NULL,NULL,NULL,80,NULL,'2026-11-27 07:13:21.424535');
INSERT INTO "events" VALUES(4,'a99fbba6-372a-471d-9dac-b86208a5cc5f','05135d47b55b425cae5b962acb538766','dwell','/',NULL,NULL,NULL,NULL,12000,'2026-11-27 07:13:21.424535');
INSERT INTO "events" VALUES(5,'575925a7-cd77-4f81-a806-3d8541fc714d','10f07ab377054a3581cd7da7c051d5b2','scroll','/',NULL,NULL,NULL,80,NULL,'2026-11-27 07:13:21.431621');
INSERT INTO "events" VALUES(6,'0b1470ff-3bbc-432c-948c-9331856b6fff','10f07ab377054a3581cd7da7c051d5b2','dwell','/',NULL,NULL,NULL,NULL,12000,'2026-11-27 07:13:21.431621');
CREATE TABLE exposures (
	id INTEGER NOT NULL, 
	visitor_id VARCHAR(32) NOT NULL, 
	path VARCHAR(200) NOT NULL, 
	holdout BOOLEAN NOT NULL, 
	blocks JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
INSERT INTO "exposures" VALUES(1,'8793845b1a794aefb35d2ccc80cef2f9','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.377872');
INSERT INTO "exposures" VALUES(2,'8793845b1a794aefb35d2ccc80cef2f9','/pricing',1,'[{"block": "pricing-hero", "variant": "default", "layer": "default"}, {"block": "pricing-plans", "variant": "default", "layer": "default"}, {"block": "pricing-testimonial", "variant": "default", "layer": "default"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.396199');
INSERT INTO "exposures" VALUES(3,'8793845b1a794aefb35d2ccc80cef2f9','/guides/cookieless-measurement',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.407634');
INSERT INTO "exposures" VALUES(4,'8793845b1a794aefb35d2ccc80cef2f9','/guides/consent-without-dark-patterns',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.412097');
INSERT INTO "exposures" VALUES(5,'8793845b1a794aefb35d2ccc80cef2f9','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.413648');
INSERT INTO "exposures" VALUES(6,'05135d47b55b425cae5b962acb538766','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.417935');
INSERT INTO "exposures" VALUES(7,'05135d47b55b425cae5b962acb538766','/pricing',1,'[{"block": "pricing-hero", "variant": "default", "layer": "default"}, {"block": "pricing-plans", "variant": "default", "layer": "default"}, {"block": "pricing-testimonial", "variant": "default", "layer": "default"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.419272');
INSERT INTO "exposures" VALUES(8,'05135d47b55b425cae5b962acb538766','/guides/cookieless-measurement',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.420661');
INSERT INTO "exposures" VALUES(9,'05135d47b55b425cae5b962acb538766','/guides/consent-without-dark-patterns',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.421939');
INSERT INTO "exposures" VALUES(10,'05135d47b55b425cae5b962acb538766','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.423139');
INSERT INTO "exposures" VALUES(11,'10f07ab377054a3581cd7da7c051d5b2','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.425649');
INSERT INTO "exposures" VALUES(12,'10f07ab377054a3581cd7da7c051d5b2','/pricing',1,'[{"block": "pricing-hero", "variant": "default", "layer": "default"}, {"block": "pricing-plans", "variant": "default", "layer": "default"}, {"block": "pricing-testimonial", "variant": "default", "layer": "default"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.426739');
INSERT INTO "exposures" VALUES(13,'10f07ab377054a3581cd7da7c051d5b2','/guides/cookieless-measurement',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.427939');
INSERT INTO "exposures" VALUES(14,'10f07ab377054a3581cd7da7c051d5b2','/guides/consent-without-dark-patterns',1,'[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.429198');
INSERT INTO "exposures" VALUES(15,'10f07ab377054a3581cd7da7c051d5b2','/',1,'[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.430357');
INSERT INTO "exposures" VALUES(16,'10f07ab377054a3581cd7da7c051d5b2','/signup',1,'[{"block": "signup-steps", "variant": "default", "layer": "default"}, {"block": "signup-testimonial", "variant": "default", "layer": "default"}]','2026-11-27 07:13:21.432760');
CREATE TABLE job_runs (
	id INTEGER NOT NULL, 
	job VARCHAR(40) NOT NULL, 
	slot BIGINT NOT NULL, 
	owner VARCHAR(120) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR(10) NOT NULL, 
	detail VARCHAR(500), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_job_runs_job_slot UNIQUE (job, slot)
);
CREATE TABLE ml_models (
	id INTEGER NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	version INTEGER NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	reason VARCHAR(300), 
	trained_at DATETIME NOT NULL, 
	metrics JSON NOT NULL, 
	params JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ml_models_kind_version UNIQUE (kind, version)
);
CREATE TABLE rate_limits (
	"key" VARCHAR(80) NOT NULL, 
	window BIGINT NOT NULL, 
	count INTEGER NOT NULL, 
	PRIMARY KEY ("key", window)
);
INSERT INTO "rate_limits" VALUES('visitor:8793845b1a794aefb35d2ccc80cef2f9',29929393,1);
INSERT INTO "rate_limits" VALUES('address:b646e319a458362f02a56be1cc5d6c53',29929393,3);
INSERT INTO "rate_limits" VALUES('visitor:05135d47b55b425cae5b962acb538766',29929393,1);
INSERT INTO "rate_limits" VALUES('visitor:10f07ab377054a3581cd7da7c051d5b2',29929393,1);
CREATE TABLE scores (
	visitor_id VARCHAR(32) NOT NULL, 
	convert FLOAT, 
	churn FLOAT, 
	affinity JSON, 
	models JSON NOT NULL, 
	scored_at DATETIME NOT NULL, 
	PRIMARY KEY (visitor_id), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
CREATE TABLE signups (
	id INTEGER NOT NULL, 
	visitor_id VARCHAR(32) NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	company_size VARCHAR(10) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
INSERT INTO "signups" VALUES(1,'10f07ab377054a3581cd7da7c051d5b2','Ada','ada@example.com','1-10','2026-11-27 07:13:21.440884');
CREATE TABLE topic_interests (
	visitor_id VARCHAR(32) NOT NULL, 
	topic VARCHAR(40) NOT NULL, 
	score FLOAT NOT NULL, 
	articles INTEGER NOT NULL, 
	PRIMARY KEY (visitor_id, topic), 
	FOREIGN KEY(visitor_id) REFERENCES visitors (id) ON DELETE CASCADE
);
INSERT INTO "topic_interests" VALUES('8793845b1a794aefb35d2ccc80cef2f9','privacy',3.20173868221229125001e+14,2);
INSERT INTO "topic_interests" VALUES('05135d47b55b425cae5b962acb538766','privacy',3.20173872417049499997e+14,2);
INSERT INTO "topic_interests" VALUES('10f07ab377054a3581cd7da7c051d5b2','privacy',3.20173875084178562503e+14,2);
CREATE TABLE visitors (
	id VARCHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_seen_at DATETIME NOT NULL, 
	visits INTEGER NOT NULL, 
	contextual BOOLEAN, 
	behavioral BOOLEAN, 
	predictive BOOLEAN, 
	gpc BOOLEAN NOT NULL, 
	previous_visit_at DATETIME, 
	page_views INTEGER NOT NULL, 
	pricing_views INTEGER NOT NULL, 
	articles_read INTEGER NOT NULL, 
	clicks INTEGER NOT NULL, 
	scroll_total INTEGER NOT NULL, 
	scroll_samples INTEGER NOT NULL, 
	dwell_ms_total BIGINT NOT NULL, 
	dwell_samples INTEGER NOT NULL, 
	converted BOOLEAN NOT NULL, 
	last_article VARCHAR(200), 
	recent_pages JSON NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "visitors" VALUES('8793845b1a794aefb35d2ccc80cef2f9','2026-11-27 07:13:21.377872','2026-11-27 07:13:21.413648',1,NULL,NULL,NULL,0,NULL,5,1,2,0,80,1,12000,1,0,'/guides/consent-without-dark-patterns','["/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
INSERT INTO "visitors" VALUES('05135d47b55b425cae5b962acb538766','2026-11-27 07:13:21.417935','2026-11-27 07:13:21.423139',1,NULL,NULL,NULL,0,NULL,5,1,2,0,80,1,12000,1,0,'/guides/consent-without-dark-patterns','["/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
INSERT INTO "visitors" VALUES('10f07ab377054a3581cd7da7c051d5b2','2026-11-27 07:13:21.425649','2026-11-27 07:13:21.440884',1,NULL,NULL,NULL,0,NULL,6,1,2,0,80,1,12000,1,1,'/guides/consent-without-dark-patterns','["/signup", "/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
CREATE INDEX ix_events_visitor_id ON events (visitor_id);
CREATE INDEX ix_events_created_at ON events (created_at);
CREATE INDEX ix_exposures_visitor_id ON exposures (visitor_id);
CREATE INDEX ix_exposures_created_at ON exposures (created_at);
CREATE INDEX ix_conversions_visitor_id ON conversions (visitor_id);
CREATE INDEX ix_signups_visitor_id ON signups (visitor_id);
CREATE INDEX ix_scores_scored_at ON scores (scored_at);
COMMIT;
