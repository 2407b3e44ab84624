using System.Data.Common;

namespace Lamina.Tracking;

/// <summary>
/// A migration step written in C# rather than SQL (a backfill that needs Lamina's own code): it runs in the migration's
/// transaction, after that version's script, so the version is recorded only with its data in place.
/// </summary>
internal delegate Task MigrationCode(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);
