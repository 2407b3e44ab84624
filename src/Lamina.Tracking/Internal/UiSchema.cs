namespace Lamina.Tracking;

/// <summary>
/// The part of the web UI's migration (SQLite's 10, PostgreSQL's 6) that both dialects write alike: the tokens table
/// and the runs table's indexes. A migration that has shipped never changes, so neither does this text.
/// </summary>
internal static class UiSchema
{
    public const string TokensAndRunIndexes = """

        CREATE TABLE access_tokens (
            id          TEXT PRIMARY KEY,
            owner       TEXT NOT NULL,
            role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            hash        TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL,
            created_by  TEXT NOT NULL,
            revoked_at  TEXT
        );

        CREATE INDEX runs_by_task ON runs(task_name, created_at);
        CREATE INDEX runs_by_type ON runs(task_type, created_at);
        CREATE INDEX runs_by_user ON runs(user_name, created_at);
        CREATE INDEX runs_by_queue ON runs(queue, created_at);
        CREATE INDEX runs_by_status_created ON runs(status, created_at);
        CREATE INDEX runs_by_started ON runs(started_at);
        CREATE INDEX runs_by_ended ON runs(ended_at);
        """;
}
