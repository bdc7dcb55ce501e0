using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.SqlServer
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
                type: "bit",
                nullable: false,
                defaultValue: true); // servers found before this migration were all managed

            migrationBuilder.AddColumn<string>(
                name: "MovePath",
                table: "MigrationCheckpoints",
                type: "nvarchar(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "InAggregate",
                table: "ComputeHosts",
                type: "bit",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "PoolName",
                table: "ComputeHosts",
                type: "nvarchar(255)",
                maxLength: 255,
                nullable: true);

            migrationBuilder.AddColumn<Guid>(
                name: "PoolUuid",
                table: "ComputeHosts",
                type: "uniqueidentifier",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "HostAggregates",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Uuid = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    PoolUuid = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    AvailabilityZone = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_HostAggregates", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_HostAggregates_PoolUuid",
                table: "HostAggregates",
                column: "PoolUuid",
                unique: true,
                filter: "[PoolUuid] IS NOT NULL");

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
