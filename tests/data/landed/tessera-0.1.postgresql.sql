CREATE TABLE public.bot_requests (
    day date NOT NULL,
    requests integer NOT NULL
);
CREATE TABLE public.conversions (
    id bigint NOT NULL,
    visitor_id character varying(32) NOT NULL,
    goal character varying(40) NOT NULL,
    path character varying(200) NOT NULL,
    holdout boolean NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.conversions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.conversions_id_seq OWNED BY public.conversions.id;
CREATE TABLE public.events (
    id bigint NOT NULL,
    event_id character varying(36) NOT NULL,
    visitor_id character varying(32) NOT NULL,
    type character varying(10) NOT NULL,
    page character varying(200) NOT NULL,
    block character varying(80),
    variant character varying(80),
    target character varying(32),
    depth integer,
    ms integer,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;
CREATE TABLE public.exposures (
    id bigint NOT NULL,
    visitor_id character varying(32) NOT NULL,
    path character varying(200) NOT NULL,
    holdout boolean NOT NULL,
    blocks json NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.exposures_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.exposures_id_seq OWNED BY public.exposures.id;
CREATE TABLE public.job_runs (
    id bigint NOT NULL,
    job character varying(40) NOT NULL,
    slot bigint NOT NULL,
    owner character varying(120) NOT NULL,
    started_at timestamp without time zone NOT NULL,
    finished_at timestamp without time zone,
    status character varying(10) NOT NULL,
    detail character varying(500)
);
CREATE SEQUENCE public.job_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.job_runs_id_seq OWNED BY public.job_runs.id;
CREATE TABLE public.ml_models (
    id bigint NOT NULL,
    kind character varying(20) NOT NULL,
    version integer NOT NULL,
    status character varying(10) NOT NULL,
    reason character varying(300),
    trained_at timestamp without time zone NOT NULL,
    metrics json NOT NULL,
    params json
);
CREATE SEQUENCE public.ml_models_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.ml_models_id_seq OWNED BY public.ml_models.id;
CREATE TABLE public.rate_limits (
    key character varying(80) NOT NULL,
    "window" bigint NOT NULL,
    count integer NOT NULL
);
CREATE TABLE public.scores (
    visitor_id character varying(32) NOT NULL,
    convert double precision,
    churn double precision,
    affinity json,
    models json NOT NULL,
    scored_at timestamp without time zone NOT NULL
);
CREATE TABLE public.signups (
    id bigint NOT NULL,
    visitor_id character varying(32) NOT NULL,
    name character varying(80) NOT NULL,
    email character varying(254) NOT NULL,
    company_size character varying(10) NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE SEQUENCE public.signups_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.signups_id_seq OWNED BY public.signups.id;
CREATE TABLE public.topic_interests (
    visitor_id character varying(32) NOT NULL,
    topic character varying(40) NOT NULL,
    score double precision NOT NULL,
    articles integer NOT NULL
);
CREATE TABLE public.visitors (
    id character varying(32) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    last_seen_at timestamp without time zone NOT NULL,
    visits integer NOT NULL,
    contextual boolean,
    behavioral boolean,
    predictive boolean,
    gpc boolean NOT NULL,
    previous_visit_at timestamp without time zone,
    page_views integer NOT NULL,
    pricing_views integer NOT NULL,
    articles_read integer NOT NULL,
    clicks integer NOT NULL,
    scroll_total integer NOT NULL,
    scroll_samples integer NOT NULL,
    dwell_ms_total bigint NOT NULL,
    dwell_samples integer NOT NULL,
    converted boolean NOT NULL,
    last_article character varying(200),
    recent_pages json NOT NULL
);
ALTER TABLE ONLY public.conversions ALTER COLUMN id SET DEFAULT nextval('public.conversions_id_seq'::regclass);
ALTER TABLE ONLY public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq'::regclass);
ALTER TABLE ONLY public.exposures ALTER COLUMN id SET DEFAULT nextval('public.exposures_id_seq'::regclass);
ALTER TABLE ONLY public.job_runs ALTER COLUMN id SET DEFAULT nextval('public.job_runs_id_seq'::regclass);
ALTER TABLE ONLY public.ml_models ALTER COLUMN id SET DEFAULT nextval('public.ml_models_id_seq'::regclass);
ALTER TABLE ONLY public.signups ALTER COLUMN id SET DEFAULT nextval('public.signups_id_seq'::regclass);
INSERT INTO public.conversions VALUES (1, '277ce577a6544de181e36ac21fac8a10', 'signup', '/signup', false, '2026-11-27 07:13:22.329642');
INSERT INTO public.events VALUES (1, '76b8dc3d-9310-4a5b-b538-4d5a04a3bf27', 'acabd18b144940218284ea87b6fc8db3', 'scroll', '/', NULL, NULL, NULL, 80, NULL, '2026-11-27 07:13:22.287181');
INSERT INTO public.events VALUES (2, '2219d028-0741-4946-94dd-a5122251d5be', 'acabd18b144940218284ea87b6fc8db3', 'dwell', '/', NULL, NULL, NULL, NULL, 12000, '2026-11-27 07:13:22.287181');
INSERT INTO public.events VALUES (3, '4606dad0-6544-4fe2-9410-e3f59a695dfc', 'c27f40bfe80743789425aec5c7e48619', 'scroll', '/', NULL, NULL, NULL, 80, NULL, '2026-11-27 07:13:22.304107');
INSERT INTO public.events VALUES (4, '754181c6-6ba5-4aae-991f-23dc25a58c7f', 'c27f40bfe80743789425aec5c7e48619', 'dwell', '/', NULL, NULL, NULL, NULL, 12000, '2026-11-27 07:13:22.304107');
INSERT INTO public.events VALUES (5, '8beec289-4f2e-4d10-834e-c0841181d171', '277ce577a6544de181e36ac21fac8a10', 'scroll', '/', NULL, NULL, NULL, 80, NULL, '2026-11-27 07:13:22.317906');
INSERT INTO public.events VALUES (6, '0f324bdb-5a70-4e09-ac1f-24f634d0d32c', '277ce577a6544de181e36ac21fac8a10', 'dwell', '/', NULL, NULL, NULL, NULL, 12000, '2026-11-27 07:13:22.317906');
INSERT INTO public.exposures VALUES (1, 'acabd18b144940218284ea87b6fc8db3', '/', true, '[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.209314');
INSERT INTO public.exposures VALUES (2, 'acabd18b144940218284ea87b6fc8db3', '/pricing', true, '[{"block": "pricing-hero", "variant": "default", "layer": "default"}, {"block": "pricing-plans", "variant": "default", "layer": "default"}, {"block": "pricing-testimonial", "variant": "default", "layer": "default"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.230113');
INSERT INTO public.exposures VALUES (3, 'acabd18b144940218284ea87b6fc8db3', '/guides/cookieless-measurement', true, '[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.275276');
INSERT INTO public.exposures VALUES (4, 'acabd18b144940218284ea87b6fc8db3', '/guides/consent-without-dark-patterns', true, '[{"block": "guide-related", "variant": "default", "layer": "default"}, {"block": "guide-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.281441');
INSERT INTO public.exposures VALUES (5, 'acabd18b144940218284ea87b6fc8db3', '/', true, '[{"block": "home-hero", "variant": "default", "layer": "default"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-features", "variant": "default", "layer": "default"}, {"block": "home-privacy", "variant": "default", "layer": "default"}, {"block": "home-growth", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "default"}, {"block": "home-guides", "variant": "default", "layer": "default"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.284322');
INSERT INTO public.exposures VALUES (6, 'c27f40bfe80743789425aec5c7e48619', '/', false, '[{"block": "home-hero", "variant": "phone", "layer": "contextual"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "contextual"}, {"block": "home-growth", "variant": "phone", "layer": "contextual"}, {"block": "home-guides", "variant": "default", "layer": "contextual"}, {"block": "home-privacy", "variant": "phone", "layer": "contextual"}, {"block": "home-features", "variant": "phone", "layer": "contextual"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.291505');
INSERT INTO public.exposures VALUES (7, 'c27f40bfe80743789425aec5c7e48619', '/pricing', false, '[{"block": "pricing-hero", "variant": "phone", "layer": "contextual"}, {"block": "pricing-plans", "variant": "eu-euro", "layer": "contextual"}, {"block": "pricing-testimonial", "variant": "phone", "layer": "contextual"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.293909');
INSERT INTO public.exposures VALUES (8, 'c27f40bfe80743789425aec5c7e48619', '/guides/cookieless-measurement', false, '[{"block": "guide-related", "variant": "phone", "layer": "contextual"}, {"block": "guide-cta", "variant": "phone", "layer": "contextual"}]', '2026-11-27 07:13:22.29657');
INSERT INTO public.exposures VALUES (9, 'c27f40bfe80743789425aec5c7e48619', '/guides/consent-without-dark-patterns', false, '[{"block": "guide-related", "variant": "phone", "layer": "contextual"}, {"block": "guide-cta", "variant": "phone", "layer": "contextual"}]', '2026-11-27 07:13:22.299152');
INSERT INTO public.exposures VALUES (10, 'c27f40bfe80743789425aec5c7e48619', '/', false, '[{"block": "home-hero", "variant": "phone", "layer": "contextual"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "contextual"}, {"block": "home-growth", "variant": "phone", "layer": "contextual"}, {"block": "home-guides", "variant": "default", "layer": "contextual"}, {"block": "home-privacy", "variant": "phone", "layer": "contextual"}, {"block": "home-features", "variant": "phone", "layer": "contextual"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.301693');
INSERT INTO public.exposures VALUES (11, '277ce577a6544de181e36ac21fac8a10', '/', false, '[{"block": "home-hero", "variant": "phone", "layer": "contextual"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "contextual"}, {"block": "home-growth", "variant": "phone", "layer": "contextual"}, {"block": "home-guides", "variant": "default", "layer": "contextual"}, {"block": "home-privacy", "variant": "phone", "layer": "contextual"}, {"block": "home-features", "variant": "phone", "layer": "contextual"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.30655');
INSERT INTO public.exposures VALUES (12, '277ce577a6544de181e36ac21fac8a10', '/pricing', false, '[{"block": "pricing-hero", "variant": "phone", "layer": "contextual"}, {"block": "pricing-plans", "variant": "eu-euro", "layer": "contextual"}, {"block": "pricing-testimonial", "variant": "phone", "layer": "contextual"}, {"block": "pricing-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.308262');
INSERT INTO public.exposures VALUES (13, '277ce577a6544de181e36ac21fac8a10', '/guides/cookieless-measurement', false, '[{"block": "guide-related", "variant": "phone", "layer": "contextual"}, {"block": "guide-cta", "variant": "phone", "layer": "contextual"}]', '2026-11-27 07:13:22.310682');
INSERT INTO public.exposures VALUES (14, '277ce577a6544de181e36ac21fac8a10', '/guides/consent-without-dark-patterns', false, '[{"block": "guide-related", "variant": "phone", "layer": "contextual"}, {"block": "guide-cta", "variant": "phone", "layer": "contextual"}]', '2026-11-27 07:13:22.313105');
INSERT INTO public.exposures VALUES (15, '277ce577a6544de181e36ac21fac8a10', '/', false, '[{"block": "home-hero", "variant": "phone", "layer": "contextual"}, {"block": "home-announcement", "variant": "default", "layer": "default"}, {"block": "home-testimonial", "variant": "default", "layer": "contextual"}, {"block": "home-growth", "variant": "phone", "layer": "contextual"}, {"block": "home-guides", "variant": "default", "layer": "contextual"}, {"block": "home-privacy", "variant": "phone", "layer": "contextual"}, {"block": "home-features", "variant": "phone", "layer": "contextual"}, {"block": "home-cta", "variant": "default", "layer": "default"}]', '2026-11-27 07:13:22.315436');
INSERT INTO public.exposures VALUES (16, '277ce577a6544de181e36ac21fac8a10', '/signup', false, '[{"block": "signup-steps", "variant": "phone", "layer": "contextual"}, {"block": "signup-testimonial", "variant": "phone", "layer": "contextual"}]', '2026-11-27 07:13:22.320442');
INSERT INTO public.rate_limits VALUES ('visitor:acabd18b144940218284ea87b6fc8db3', 29929393, 1);
INSERT INTO public.rate_limits VALUES ('visitor:c27f40bfe80743789425aec5c7e48619', 29929393, 1);
INSERT INTO public.rate_limits VALUES ('visitor:277ce577a6544de181e36ac21fac8a10', 29929393, 1);
INSERT INTO public.rate_limits VALUES ('address:b646e319a458362f02a56be1cc5d6c53', 29929393, 3);
INSERT INTO public.signups VALUES (1, '277ce577a6544de181e36ac21fac8a10', 'Ada', 'ada@example.com', '1-10', '2026-11-27 07:13:22.329642');
INSERT INTO public.topic_interests VALUES ('acabd18b144940218284ea87b6fc8db3', 'privacy', 320174186909515.25, 2);
INSERT INTO public.topic_interests VALUES ('c27f40bfe80743789425aec5c7e48619', 'privacy', 320174194065843.5, 2);
INSERT INTO public.topic_interests VALUES ('277ce577a6544de181e36ac21fac8a10', 'privacy', 320174199214988.56, 2);
INSERT INTO public.visitors VALUES ('acabd18b144940218284ea87b6fc8db3', '2026-11-27 07:13:22.209314', '2026-11-27 07:13:22.284322', 1, NULL, NULL, NULL, false, NULL, 5, 1, 2, 0, 80, 1, 12000, 1, false, '/guides/consent-without-dark-patterns', '["/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
INSERT INTO public.visitors VALUES ('c27f40bfe80743789425aec5c7e48619', '2026-11-27 07:13:22.291505', '2026-11-27 07:13:22.301693', 1, NULL, NULL, NULL, false, NULL, 5, 1, 2, 0, 80, 1, 12000, 1, false, '/guides/consent-without-dark-patterns', '["/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
INSERT INTO public.visitors VALUES ('277ce577a6544de181e36ac21fac8a10', '2026-11-27 07:13:22.30655', '2026-11-27 07:13:22.329642', 1, NULL, NULL, NULL, false, NULL, 6, 1, 2, 0, 80, 1, 12000, 1, true, '/guides/consent-without-dark-patterns', '["/signup", "/", "/guides/consent-without-dark-patterns", "/guides/cookieless-measurement", "/pricing"]');
SELECT pg_catalog.setval('public.conversions_id_seq', 1, true);
SELECT pg_catalog.setval('public.events_id_seq', 6, true);
SELECT pg_catalog.setval('public.exposures_id_seq', 16, true);
SELECT pg_catalog.setval('public.job_runs_id_seq', 1, false);
SELECT pg_catalog.setval('public.ml_models_id_seq', 1, false);
SELECT pg_catalog.setval('public.signups_id_seq', 1, true);
ALTER TABLE ONLY public.bot_requests
    ADD CONSTRAINT bot_requests_pkey PRIMARY KEY (day);
ALTER TABLE ONLY public.conversions
    ADD CONSTRAINT conversions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.exposures
    ADD CONSTRAINT exposures_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.job_runs
    ADD CONSTRAINT job_runs_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.ml_models
    ADD CONSTRAINT ml_models_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (key, "window");
ALTER TABLE ONLY public.scores
    ADD CONSTRAINT scores_pkey PRIMARY KEY (visitor_id);
ALTER TABLE ONLY public.signups
    ADD CONSTRAINT signups_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.topic_interests
    ADD CONSTRAINT topic_interests_pkey PRIMARY KEY (visitor_id, topic);
ALTER TABLE ONLY public.events
    ADD CONSTRAINT uq_events_visitor_event UNIQUE (visitor_id, event_id);
ALTER TABLE ONLY public.job_runs
    ADD CONSTRAINT uq_job_runs_job_slot UNIQUE (job, slot);
ALTER TABLE ONLY public.ml_models
    ADD CONSTRAINT uq_ml_models_kind_version UNIQUE (kind, version);
ALTER TABLE ONLY public.visitors
    ADD CONSTRAINT visitors_pkey PRIMARY KEY (id);
CREATE INDEX ix_conversions_visitor_id ON public.conversions USING btree (visitor_id);
CREATE INDEX ix_events_created_at ON public.events USING btree (created_at);
CREATE INDEX ix_events_visitor_id ON public.events USING btree (visitor_id);
CREATE INDEX ix_exposures_created_at ON public.exposures USING btree (created_at);
CREATE INDEX ix_exposures_visitor_id ON public.exposures USING btree (visitor_id);
CREATE INDEX ix_scores_scored_at ON public.scores USING btree (scored_at);
CREATE INDEX ix_signups_visitor_id ON public.signups USING btree (visitor_id);
ALTER TABLE ONLY public.conversions
    ADD CONSTRAINT conversions_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.exposures
    ADD CONSTRAINT exposures_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.scores
    ADD CONSTRAINT scores_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.signups
    ADD CONSTRAINT signups_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.topic_interests
    ADD CONSTRAINT topic_interests_visitor_id_fkey FOREIGN KEY (visitor_id) REFERENCES public.visitors(id) ON DELETE CASCADE;
