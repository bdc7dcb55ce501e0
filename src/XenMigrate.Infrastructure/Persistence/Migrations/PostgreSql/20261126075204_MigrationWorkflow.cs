using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.PostgreSql
{
    /// <inheritdoc />
    public partial class MigrationWorkflow : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "DowntimeMilliseconds",
                table: "Migrations",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "MigrationCheckpoints",
                columns: table => new
                {
                    MigrationId = table.Column<int>(type: "integer", nullable: false),
                    ResizeRequestId = table.Column<string>(type: "text", nullable: true),
                    ConfirmOrRevertRequestId = table.Column<string>(type: "text", nullable: true),
                    RequestedHost = table.Column<string>(type: "text", nullable: true),
                    SourceVmUuid = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    SourcePowerState = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    SnapshotVmUuid = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    DestinationVmUuid = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    Disks = table.Column<string>(type: "text", nullable: false),
                    SourceHaltedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    UpdatedAt = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MigrationCheckpoints", x => x.MigrationId);
                    table.ForeignKey(
                        name: "FK_MigrationCheckpoints_Migrations_MigrationId",
                        column: x => x.MigrationId,
                        principalTable: "Migrations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "MigrationCheckpoints");

            migrationBuilder.DropColumn(
                name: "DowntimeMilliseconds",
                table: "Migrations");
        }
    }
}
