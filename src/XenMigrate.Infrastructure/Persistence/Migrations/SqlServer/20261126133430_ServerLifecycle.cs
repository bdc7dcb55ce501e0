using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class ServerLifecycle : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "ImageId",
                table: "Servers",
                type: "nvarchar(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Metadata",
                table: "Servers",
                type: "nvarchar(max)",
                nullable: false,
                defaultValue: "{}"); // existing servers have no metadata: an empty JSON object

            migrationBuilder.CreateTable(
                name: "QuotaLimits",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Resource = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    HardLimit = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_QuotaLimits", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_QuotaLimits_ProjectId_Resource",
                table: "QuotaLimits",
                columns: new[] { "ProjectId", "Resource" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "QuotaLimits");

            migrationBuilder.DropColumn(
                name: "ImageId",
                table: "Servers");

            migrationBuilder.DropColumn(
                name: "Metadata",
                table: "Servers");
        }
    }
}
