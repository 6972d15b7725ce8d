-- 026_segments: the rights filtered reports need (sql/report/segments.sql).
--
-- A filter selects visits and counts their events, so sp-stats reads the
-- raw events, visits and the goals they reached, not only the rollups;
-- sp-heatmap draws a filtered map from the segment's raw clicks and scroll
-- reports through the report schema's functions (report.segment_events()
-- and sql/report/segment_heatmaps.sql). Neither reads anything that names
-- a person: events hold a daily visitor hash, never an address.

INSERT INTO sitepulse.program_rights (role, privilege, object, definer) VALUES
    ('sitepulse_stats',   'SELECT',  'TABLE sitepulse.events', false),
    ('sitepulse_stats',   'SELECT',  'TABLE sitepulse.visits', false),
    ('sitepulse_stats',   'SELECT',  'TABLE sitepulse.visit_goals', false),
    ('sitepulse_heatmap', 'USAGE',   'SCHEMA report', false),
    ('sitepulse_heatmap', 'EXECUTE', 'ALL FUNCTIONS IN SCHEMA report', false),
    ('sitepulse_heatmap', 'SELECT',  'TABLE sitepulse.events', false),
    ('sitepulse_heatmap', 'SELECT',  'TABLE sitepulse.visits', false),
    ('sitepulse_heatmap', 'SELECT',  'TABLE sitepulse.visit_goals', false),
    ('sitepulse_heatmap', 'SELECT',  'TABLE sitepulse.goals', false),
    ('sitepulse_stats',   'EXECUTE', 'FUNCTION sitepulse.utc_day(timestamptz)', false),
    ('sitepulse_stats',   'EXECUTE', 'FUNCTION sitepulse.visit_duration_ms(bigint, timestamptz, timestamptz)', false),
    ('sitepulse_stats',   'EXECUTE', 'FUNCTION sitepulse.url_param(text, text)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.utc_day(timestamptz)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.visit_duration_ms(bigint, timestamptz, timestamptz)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.url_param(text, text)', false),
    -- A filtered map places raw clicks in cells as the ingest trigger does.
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.click_cell(int, text, int)', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.cell_size()', false),
    ('sitepulse_heatmap', 'EXECUTE', 'FUNCTION sitepulse.element_cell(real)', false);
