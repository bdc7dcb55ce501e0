using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class OneActiveDrainPerHost : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // A database from before the index may hold two active drains of one host (the race
            // the index closes): all but the newest become Cancelled, so the index can be built.
            migrationBuilder.Sql("""
                UPDATE "HostDrains" SET "Status" = 'Cancelled'
                WHERE "Status" IN ('Running', 'Cancelling')
                  AND "Id" NOT IN (SELECT MAX("Id") FROM "HostDrains" WHERE "Status" IN ('Running', 'Cancelling') GROUP BY "Host")
                """);
            migrationBuilder.CreateIndex(
                name: "IX_HostDrains_ActiveHost",
                table: "HostDrains",
                column: "Host",
                unique: true,
                filter: "\"Status\" IN ('Running', 'Cancelling')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_HostDrains_ActiveHost",
                table: "HostDrains");
        }
    }
}
