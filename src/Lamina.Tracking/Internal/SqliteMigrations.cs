namespace Lamina.Tracking;

/// <summary>The schema of the SQLite tracking store, as an ordered list of scripts; version N is the N-th entry. Never edit a shipped entry: append.</summary>
internal static class SqliteMigrations
{
    public static IReadOnlyList<string> All { get; } =
    [
        // 1: the initial schema.
        """
        CREATE TABLE projects (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  TEXT NOT NULL
        );

        CREATE TABLE runs (
            id               TEXT PRIMARY KEY,
            project_id       INTEGER NOT NULL REFERENCES projects(id),
            task_name        TEXT NOT NULL,
            task_type        TEXT NOT NULL,
            status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'aborted')),
            created_at       TEXT NOT NULL,
            started_at       TEXT,
            ended_at         TEXT,
            tags             TEXT NOT NULL DEFAULT '[]',
            description      TEXT,
            user_name        TEXT NOT NULL,
            host             TEXT NOT NULL,
            error            TEXT,
            experiment_file  TEXT NOT NULL,
            configuration    TEXT NOT NULL,
            environment      TEXT NOT NULL
        );
        CREATE INDEX runs_by_created ON runs(created_at);
        CREATE INDEX runs_by_project ON runs(project_id, created_at);

        CREATE TABLE run_git (
            run_id           TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            repository_root  TEXT NOT NULL,
            remote           TEXT,
            branch           TEXT,
            commit_sha       TEXT,
            dirty            INTEGER NOT NULL,
            diff_digest      TEXT NOT NULL,
            diff_size        INTEGER NOT NULL
        );

        CREATE TABLE run_plugin_sources (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            path    TEXT NOT NULL,
            sha256  TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        );

        CREATE TABLE metrics (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name    TEXT NOT NULL,
            step    INTEGER NOT NULL,
            value   REAL,
            time    TEXT NOT NULL
        );
        CREATE INDEX metrics_by_run_name_step ON metrics(run_id, name, step);

        CREATE TABLE artifacts (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name        TEXT NOT NULL,
            digest      TEXT NOT NULL,
            size        INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            UNIQUE (run_id, name)
        );

        CREATE TABLE run_logs (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            seq     INTEGER NOT NULL,
            text    TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        );
        """,

        // 2: tile datasets, the inputs of runs, and the slide digest cache.
        """
        CREATE TABLE datasets (
            id           TEXT PRIMARY KEY,
            name         TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            run_id       TEXT,
            slide_count  INTEGER NOT NULL,
            tile_count   INTEGER NOT NULL,
            summary      TEXT NOT NULL
        );
        CREATE INDEX datasets_by_created ON datasets(created_at);

        CREATE TABLE run_datasets (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            dataset_id  TEXT NOT NULL REFERENCES datasets(id),
            role        TEXT NOT NULL,
            PRIMARY KEY (run_id, dataset_id, role)
        );

        CREATE TABLE run_slides (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            path    TEXT NOT NULL,
            sha256  TEXT NOT NULL,
            size    INTEGER NOT NULL,
            PRIMARY KEY (run_id, path)
        );

        CREATE TABLE slide_digests (
            path       TEXT PRIMARY KEY,
            size       INTEGER NOT NULL,
            modified   TEXT NOT NULL,
            sha256     TEXT NOT NULL,
            hashed_at  TEXT NOT NULL
        );
        """,

        // 3: model packages produced by runs.
        """
        CREATE TABLE models (
            run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name         TEXT NOT NULL,
            kind         TEXT NOT NULL,
            card_digest  TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        );
        """,

        // 4: lineage from a run to the models it used.
        """
        CREATE TABLE run_models (
            run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            model_run_id  TEXT NOT NULL,
            model_name    TEXT NOT NULL,
            card_digest   TEXT NOT NULL,
            role          TEXT NOT NULL,
            PRIMARY KEY (run_id, model_run_id, model_name, role)
        );
        """,

        // 5: published models (their runs become immutable, enforced by triggers) and the hash-chained audit log.
        """
        CREATE TABLE published (
            run_id           TEXT NOT NULL REFERENCES runs(id),
            model_name       TEXT NOT NULL,
            card_digest      TEXT NOT NULL,
            manifest_sha256  TEXT NOT NULL,
            published_at     TEXT NOT NULL,
            published_by     TEXT NOT NULL,
            reason           TEXT,
            PRIMARY KEY (run_id, model_name)
        );
        CREATE TRIGGER published_no_update BEFORE UPDATE ON published
            BEGIN SELECT RAISE(ABORT, 'a publication cannot be changed'); END;
        CREATE TRIGGER published_no_delete BEFORE DELETE ON published
            BEGIN SELECT RAISE(ABORT, 'a publication cannot be deleted'); END;

        CREATE TRIGGER runs_published_no_update BEFORE UPDATE ON runs
            WHEN EXISTS (SELECT 1 FROM published WHERE run_id = OLD.id)
            BEGIN SELECT RAISE(ABORT, 'run is published'); END;
        CREATE TRIGGER runs_published_no_delete BEFORE DELETE ON runs
            WHEN EXISTS (SELECT 1 FROM published WHERE run_id = OLD.id)
            BEGIN SELECT RAISE(ABORT, 'run is published'); END;
        """ + RunTablesFrozenWhenPublished(
            "run_git", "run_plugin_sources", "metrics", "artifacts", "run_logs", "models", "run_datasets", "run_slides", "run_models") + """

        CREATE TABLE audit_log (
            seq        INTEGER PRIMARY KEY,
            time       TEXT NOT NULL,
            who        TEXT NOT NULL,
            action     TEXT NOT NULL,
            object_id  TEXT NOT NULL,
            old_value  TEXT,
            new_value  TEXT,
            reason     TEXT,
            prev_hash  TEXT NOT NULL,
            hash       TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_object ON audit_log(object_id, seq);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,

        // 6: who executes a run (user@host pid, or a worker's name), set when it moves from queued to running.
        """
        ALTER TABLE runs ADD COLUMN executor TEXT;
        """,

        // 7: a running run's liveness lease (issue 12): the owning process (host, pid, its start time) renews it; a run
        // whose lease expired, or whose process is seen gone, is marked failed by whoever looks next.
        """
        ALTER TABLE runs ADD COLUMN lease_expires_at TEXT;
        ALTER TABLE runs ADD COLUMN owner_host TEXT;
        ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
        ALTER TABLE runs ADD COLUMN owner_started_at TEXT;
        ALTER TABLE runs ADD COLUMN owner_scope TEXT;
        CREATE INDEX runs_by_status ON runs(status);
        """,

        // 8: remote execution (issue 14): a run's queue and attempts, aborts asked of a running run, the workers and the
        // queues' settings. Runs that started before count one attempt, made by their executor; queued ones were queued
        // when created. The published runs' trigger is lifted for that one fill: it adds what the run already was.
        """
        ALTER TABLE runs ADD COLUMN queue TEXT;
        ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE runs ADD COLUMN abort_requested TEXT;
        ALTER TABLE runs ADD COLUMN worker_id TEXT;
        ALTER TABLE runs ADD COLUMN announced_at TEXT;
        ALTER TABLE runs ADD COLUMN queued_at TEXT;
        ALTER TABLE runs ADD COLUMN source_bundle TEXT;
        CREATE INDEX runs_by_status_queue ON runs(status, queue);

        DROP TRIGGER runs_published_no_update;
        UPDATE runs SET attempt = 1 WHERE started_at IS NOT NULL;
        UPDATE runs SET queued_at = created_at WHERE status = 'queued';
        CREATE TRIGGER runs_published_no_update BEFORE UPDATE ON runs
            WHEN EXISTS (SELECT 1 FROM published WHERE run_id = OLD.id)
            BEGIN SELECT RAISE(ABORT, 'run is published'); END;

        CREATE TABLE run_attempts (
            run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            attempt      INTEGER NOT NULL,
            executor     TEXT NOT NULL,
            worker_id    TEXT,
            host         TEXT,
            started_at   TEXT NOT NULL,
            ended_at     TEXT,
            outcome      TEXT NOT NULL CHECK (outcome IN ('running', 'completed', 'failed', 'aborted', 'lost')),
            error        TEXT,
            environment  TEXT,
            PRIMARY KEY (run_id, attempt)
        );
        INSERT INTO run_attempts (run_id, attempt, executor, worker_id, host, started_at, ended_at, outcome, error, environment)
            SELECT id, 1, COALESCE(executor, user_name || '@' || host), NULL, owner_host, started_at, ended_at, status, error, NULL
            FROM runs WHERE started_at IS NOT NULL;
        """ + RunTablesFrozenWhenPublished("run_attempts") + """

        CREATE TABLE workers (
            id                 TEXT PRIMARY KEY,
            host               TEXT NOT NULL,
            pid                INTEGER NOT NULL,
            queues             TEXT NOT NULL,
            gpus               TEXT NOT NULL,
            concurrency        INTEGER NOT NULL,
            lamina_version     TEXT NOT NULL,
            started_at         TEXT NOT NULL,
            last_heartbeat_at  TEXT NOT NULL,
            stopped_at         TEXT
        );

        CREATE TABLE queues (
            name          TEXT PRIMARY KEY,
            max_attempts  INTEGER NOT NULL,
            updated_at    TEXT NOT NULL
        );
        """,

        // 9: customer releases (issue 16): which image, built from which bundle, base and customer commit, runs where.
        // A release is never changed nor removed: a new version is a new row.
        """
        CREATE TABLE releases (
            id                  TEXT PRIMARY KEY,
            customer            TEXT NOT NULL,
            version             TEXT NOT NULL,
            image               TEXT NOT NULL,
            image_digest        TEXT NOT NULL,
            bundle_digest       TEXT NOT NULL,
            base_image          TEXT NOT NULL,
            base_digest         TEXT NOT NULL,
            customer_commit     TEXT,
            customer_remote     TEXT,
            models              TEXT NOT NULL,
            signing_key_id      TEXT,
            signature_digest    TEXT,
            attestation_digest  TEXT,
            audit_anchor        TEXT,
            created_at          TEXT NOT NULL,
            created_by          TEXT NOT NULL,
            UNIQUE (customer, version)
        );
        CREATE INDEX releases_by_image_digest ON releases(image_digest);
        CREATE INDEX releases_by_created ON releases(created_at);
        CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
            BEGIN SELECT RAISE(ABORT, 'a release cannot be changed'); END;
        CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases
            BEGIN SELECT RAISE(ABORT, 'a release cannot be deleted'); END;
        """,

        // 10: the web UI's runs table (issue 17): each run's configuration flattened into parameters (secrets redacted;
        // number = the value as a double where it is one, for numeric sorting), each metric's summary kept as metrics are
        // logged (count, the last point by step then time, min and max of the values that are not NaN), web UI tokens
        // (their secrets only as SHA-256), and indexes for the table's filters and sorts. Existing runs are backfilled by
        // code (Code[10]) after this script.
        """
        CREATE TABLE run_params (
            run_id  TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key     TEXT NOT NULL,
            value   TEXT NOT NULL,
            number  REAL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX run_params_by_key ON run_params(key);

        CREATE TABLE metric_summaries (
            run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name        TEXT NOT NULL,
            count       INTEGER NOT NULL,
            last_step   INTEGER NOT NULL,
            last_time   TEXT NOT NULL,
            last_value  REAL,
            min_value   REAL,
            max_value   REAL,
            PRIMARY KEY (run_id, name)
        );
        CREATE INDEX metric_summaries_by_name ON metric_summaries(name);

        """ + UiSchema.TokensAndRunIndexes,

        // 11: a published run's parameters and metric summaries are frozen with it, as its other rows are (after 10's
        // backfill, which adds them for the runs published before).
        RunTablesFrozenWhenPublished("run_params", "metric_summaries"),

        // 12: the web UI's lineage reads without scanning: the audit entries of one action (bundles built), the runs that
        // used a run's models, the data sets a run built.
        LineageIndexes,
    ];

    /// <summary>The indexes of SQLite's migration 12 and PostgreSQL's 8.</summary>
    internal const string LineageIndexes = """
        CREATE INDEX audit_log_by_action ON audit_log(action, seq);
        CREATE INDEX run_models_by_model_run ON run_models(model_run_id);
        CREATE INDEX datasets_by_run ON datasets(run_id);
        """;

    /// <summary>The migrations that have a step in C# after their script, by version.</summary>
    public static IReadOnlyDictionary<int, MigrationCode> Code { get; } = new Dictionary<int, MigrationCode>
    {
        [10] = RelationalTrackingStore.BackfillBrowsingAsync,
    };

    // Every table holding a run's rows refuses inserts, updates and deletes for a published run: three triggers each.
    private static string RunTablesFrozenWhenPublished(params string[] tables) => string.Concat(
        tables.Select(table => $"""

                CREATE TRIGGER {table}_published_no_insert BEFORE INSERT ON {table}
                    WHEN EXISTS (SELECT 1 FROM published WHERE run_id = NEW.run_id)
                    BEGIN SELECT RAISE(ABORT, 'run is published'); END;
                CREATE TRIGGER {table}_published_no_update BEFORE UPDATE ON {table}
                    WHEN EXISTS (SELECT 1 FROM published WHERE run_id = OLD.run_id OR run_id = NEW.run_id)
                    BEGIN SELECT RAISE(ABORT, 'run is published'); END;
                CREATE TRIGGER {table}_published_no_delete BEFORE DELETE ON {table}
                    WHEN EXISTS (SELECT 1 FROM published WHERE run_id = OLD.run_id)
                    BEGIN SELECT RAISE(ABORT, 'run is published'); END;
                """));
}
