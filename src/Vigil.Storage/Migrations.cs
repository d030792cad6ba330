namespace Vigil.Storage;

/// <summary>
/// Versioned schema migrations, one list per dialect. A migration is never edited once released:
/// a change is a new version at the end, so every database converges on the same schema.
/// </summary>
internal static class Migrations
{
    public static readonly IReadOnlyList<(int Version, string Sql)> Sqlite =
    [
        (1, """
            CREATE TABLE security_alerts (
                alert_id     TEXT PRIMARY KEY,
                rule         TEXT NOT NULL,
                severity     INTEGER NOT NULL,
                user_id      TEXT NULL,
                ip_address   TEXT NULL,
                event_time   INTEGER NOT NULL,
                detected_at  INTEGER NOT NULL,
                window_start INTEGER NULL,
                window_end   INTEGER NULL,
                score        REAL NOT NULL,
                summary      TEXT NOT NULL,
                evidence     TEXT NOT NULL,
                status       INTEGER NOT NULL,
                status_by    TEXT NULL,
                status_at    INTEGER NULL
            );
            CREATE INDEX ix_alerts_event_time ON security_alerts (event_time DESC);
            CREATE INDEX ix_alerts_rule ON security_alerts (rule, event_time DESC);
            CREATE INDEX ix_alerts_severity ON security_alerts (severity, event_time DESC);
            CREATE INDEX ix_alerts_user ON security_alerts (user_id, event_time DESC);
            CREATE INDEX ix_alerts_ip ON security_alerts (ip_address, event_time DESC);
            CREATE INDEX ix_alerts_status ON security_alerts (status, event_time DESC);
            CREATE TABLE dead_letters (
                id            INTEGER PRIMARY KEY AUTOINCREMENT,
                source_topic  TEXT NOT NULL,
                partition_id  INTEGER NOT NULL,
                offset_value  INTEGER NOT NULL,
                reason        TEXT NOT NULL,
                detail        TEXT NOT NULL,
                message_key   TEXT NULL,
                raw           BLOB NOT NULL,
                raw_length    INTEGER NOT NULL,
                received_at   INTEGER NOT NULL
            );
            CREATE UNIQUE INDEX ux_dead_letters_source ON dead_letters (source_topic, partition_id, offset_value)
                WHERE offset_value >= 0;
            CREATE INDEX ix_dead_letters_received ON dead_letters (received_at DESC);
            """),
        (2, """
            ALTER TABLE security_alerts ADD COLUMN status_note TEXT NULL;
            CREATE TABLE audit_log (
                id      INTEGER PRIMARY KEY AUTOINCREMENT,
                at      INTEGER NOT NULL,
                actor   TEXT NOT NULL,
                role    TEXT NOT NULL,
                action  TEXT NOT NULL,
                target  TEXT NULL,
                detail  TEXT NULL
            );
            CREATE INDEX ix_audit_at ON audit_log (at DESC);
            """),
        (3, """
            CREATE TABLE user_behavior_patterns (
                user_id        TEXT PRIMARY KEY,
                segment        TEXT NOT NULL,
                segment_index  INTEGER NOT NULL,
                model_version  INTEGER NOT NULL,
                features       TEXT NOT NULL,
                anomaly_score  REAL NULL,
                updated_at     INTEGER NOT NULL
            );
            CREATE INDEX ix_ubp_segment ON user_behavior_patterns (segment, user_id);
            CREATE TABLE ml_model_metrics (
                id             INTEGER PRIMARY KEY AUTOINCREMENT,
                model_kind     TEXT NOT NULL,
                model_version  INTEGER NOT NULL,
                trained_at     INTEGER NOT NULL,
                sample_count   INTEGER NOT NULL,
                training_ms    REAL NOT NULL,
                parameters     TEXT NOT NULL,
                metrics        TEXT NOT NULL
            );
            CREATE UNIQUE INDEX ux_ml_model_metrics ON ml_model_metrics (model_kind, model_version);
            CREATE INDEX ix_ml_model_metrics_trained ON ml_model_metrics (trained_at DESC);
            CREATE INDEX ix_ml_model_metrics_kind ON ml_model_metrics (model_kind, trained_at DESC);
            """),
        (4, """
            CREATE TABLE sync_mark (
                id  INTEGER PRIMARY KEY CHECK (id = 1),
                at  INTEGER NOT NULL
            );
            """),
    ];

    public static readonly IReadOnlyList<(int Version, string Sql)> Postgres =
    [
        (1, """
            CREATE TABLE security_alerts (
                alert_id     TEXT PRIMARY KEY,
                rule         TEXT NOT NULL,
                severity     SMALLINT NOT NULL,
                user_id      TEXT NULL,
                ip_address   TEXT NULL,
                event_time   TIMESTAMPTZ NOT NULL,
                detected_at  TIMESTAMPTZ NOT NULL,
                window_start TIMESTAMPTZ NULL,
                window_end   TIMESTAMPTZ NULL,
                score        DOUBLE PRECISION NOT NULL,
                summary      TEXT NOT NULL,
                evidence     JSONB NOT NULL,
                status       SMALLINT NOT NULL,
                status_by    TEXT NULL,
                status_at    TIMESTAMPTZ NULL
            );
            CREATE INDEX ix_alerts_event_time ON security_alerts (event_time DESC);
            CREATE INDEX ix_alerts_rule ON security_alerts (rule, event_time DESC);
            CREATE INDEX ix_alerts_severity ON security_alerts (severity, event_time DESC);
            CREATE INDEX ix_alerts_user ON security_alerts (user_id, event_time DESC);
            CREATE INDEX ix_alerts_ip ON security_alerts (ip_address, event_time DESC);
            CREATE INDEX ix_alerts_status ON security_alerts (status, event_time DESC);
            CREATE TABLE dead_letters (
                id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                source_topic  TEXT NOT NULL,
                partition_id  INTEGER NOT NULL,
                offset_value  BIGINT NOT NULL,
                reason        TEXT NOT NULL,
                detail        TEXT NOT NULL,
                message_key   TEXT NULL,
                raw           BYTEA NOT NULL,
                raw_length    INTEGER NOT NULL,
                received_at   TIMESTAMPTZ NOT NULL
            );
            CREATE UNIQUE INDEX ux_dead_letters_source ON dead_letters (source_topic, partition_id, offset_value)
                WHERE offset_value >= 0;
            CREATE INDEX ix_dead_letters_received ON dead_letters (received_at DESC);
            """),
        (2, """
            ALTER TABLE security_alerts ADD COLUMN status_note TEXT NULL;
            CREATE TABLE audit_log (
                id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at      TIMESTAMPTZ NOT NULL,
                actor   TEXT NOT NULL,
                role    TEXT NOT NULL,
                action  TEXT NOT NULL,
                target  TEXT NULL,
                detail  TEXT NULL
            );
            CREATE INDEX ix_audit_at ON audit_log (at DESC);
            """),
        (3, """
            CREATE TABLE user_behavior_patterns (
                user_id        TEXT PRIMARY KEY,
                segment        TEXT NOT NULL,
                segment_index  INTEGER NOT NULL,
                model_version  INTEGER NOT NULL,
                features       JSONB NOT NULL,
                anomaly_score  DOUBLE PRECISION NULL,
                updated_at     TIMESTAMPTZ NOT NULL
            );
            CREATE INDEX ix_ubp_segment ON user_behavior_patterns (segment, user_id);
            CREATE TABLE ml_model_metrics (
                id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                model_kind     TEXT NOT NULL,
                model_version  INTEGER NOT NULL,
                trained_at     TIMESTAMPTZ NOT NULL,
                sample_count   INTEGER NOT NULL,
                training_ms    DOUBLE PRECISION NOT NULL,
                parameters     JSONB NOT NULL,
                metrics        JSONB NOT NULL
            );
            CREATE UNIQUE INDEX ux_ml_model_metrics ON ml_model_metrics (model_kind, model_version);
            CREATE INDEX ix_ml_model_metrics_trained ON ml_model_metrics (trained_at DESC);
            CREATE INDEX ix_ml_model_metrics_kind ON ml_model_metrics (model_kind, trained_at DESC);
            """),
    ];
}
