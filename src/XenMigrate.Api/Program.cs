using XenMigrate.Api.Hosting;

// `XenMigrate.Api migrate`: bring a shared database up to date, seed it, and exit (run before a roll-out).
var migrateOnly = args.Contains("migrate", StringComparer.Ordinal);
await using var app = await Gateway.BuildAsync(args.Where(a => a != "migrate").ToArray(), migrateOnly: migrateOnly);
if (migrateOnly)
{
    Console.WriteLine("Database is up to date.");
    return;
}

await app.RunAsync();
