using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Pools : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "Managed",
                table: "Servers",
                type: "INTEGER",
                nullable: false,
                defaultValue: true); // servers found before this migration were all managed

            migrationBuilder.AddColumn<string>(
                name: "MovePath",
                table: "MigrationCheckpoints",
                type: "TEXT",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "InAggregate",
                table: "ComputeHosts",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "PoolName",
                table: "ComputeHosts",
                type: "TEXT",
                maxLength: 255,
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "PoolUuid",
                table: "ComputeHosts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "HostAggregates",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Uuid = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    PoolUuid = table.Column<Guid>(type: "TEXT", nullable: true),
                    AvailabilityZone = table.Column<string>(type: "TEXT", maxLength: 255, nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_HostAggregates", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_HostAggregates_PoolUuid",
                table: "HostAggregates",
                column: "PoolUuid",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_HostAggregates_Uuid",
                table: "HostAggregates",
                column: "Uuid",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "HostAggregates");

            migrationBuilder.DropColumn(
                name: "Managed",
                table: "Servers");

            migrationBuilder.DropColumn(
                name: "MovePath",
                table: "MigrationCheckpoints");

            migrationBuilder.DropColumn(
                name: "InAggregate",
                table: "ComputeHosts");

            migrationBuilder.DropColumn(
                name: "PoolName",
                table: "ComputeHosts");

            migrationBuilder.DropColumn(
                name: "PoolUuid",
                table: "ComputeHosts");
        }
    }
}
