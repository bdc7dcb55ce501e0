using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class DropPreviousVmState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "PreviousVmState",
                table: "Servers");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "PreviousVmState",
                table: "Servers",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);
        }
    }
}
