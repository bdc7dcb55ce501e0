using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace XenMigrate.Infrastructure.Persistence.Migrations.SqlServer
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "ComputeHosts",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Uuid = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    XapiUrl = table.Column<string>(type: "nvarchar(2048)", maxLength: 2048, nullable: false),
                    Enabled = table.Column<bool>(type: "bit", nullable: false),
                    DisabledReason = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    ForcedDown = table.Column<bool>(type: "bit", nullable: false),
                    LastSeenAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    IsUp = table.Column<bool>(type: "bit", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    PoolUuid = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    PoolName = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    InAggregate = table.Column<bool>(type: "bit", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ComputeHosts", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Flavors",
                columns: table => new
                {
                    InternalId = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    FlavorId = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    MemoryMb = table.Column<int>(type: "int", nullable: false),
                    Vcpus = table.Column<int>(type: "int", nullable: false),
                    RootGb = table.Column<int>(type: "int", nullable: false),
                    EphemeralGb = table.Column<int>(type: "int", nullable: false),
                    SwapMb = table.Column<int>(type: "int", nullable: false),
                    IsPublic = table.Column<bool>(type: "bit", nullable: false),
                    Disabled = table.Column<bool>(type: "bit", nullable: false),
                    Description = table.Column<string>(type: "nvarchar(max)", maxLength: 65535, nullable: true),
                    RxtxFactor = table.Column<double>(type: "float", nullable: false),
                    ExtraSpecs = table.Column<string>(type: "nvarchar(max)", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Flavors", x => x.InternalId);
                });

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

            migrationBuilder.CreateTable(
                name: "HostDrains",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Uuid = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Host = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Reason = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    MaxConcurrent = table.Column<int>(type: "int", nullable: false),
                    Status = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    RequestId = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    FinishedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    Version = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_HostDrains", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "InstanceActions",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ServerId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Action = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    RequestId = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    StartTime = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    Message = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_InstanceActions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "KeyPairs",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Type = table.Column<string>(type: "nvarchar(8)", maxLength: 8, nullable: false),
                    PublicKey = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    Fingerprint = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_KeyPairs", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Migrations",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    Uuid = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    InstanceUuid = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Type = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false),
                    Status = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false),
                    SourceCompute = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    SourceNode = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    DestCompute = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    DestNode = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    DestHost = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    OldInstanceTypeId = table.Column<int>(type: "int", nullable: false),
                    NewInstanceTypeId = table.Column<int>(type: "int", nullable: false),
                    MemoryTotalBytes = table.Column<long>(type: "bigint", nullable: false),
                    MemoryProcessedBytes = table.Column<long>(type: "bigint", nullable: false),
                    MemoryRemainingBytes = table.Column<long>(type: "bigint", nullable: false),
                    DiskTotalBytes = table.Column<long>(type: "bigint", nullable: false),
                    DiskProcessedBytes = table.Column<long>(type: "bigint", nullable: false),
                    DiskRemainingBytes = table.Column<long>(type: "bigint", nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Hidden = table.Column<bool>(type: "bit", nullable: false),
                    DowntimeMilliseconds = table.Column<long>(type: "bigint", nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    Version = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Migrations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "OutboxMessages",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    MessageId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    EventType = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Priority = table.Column<string>(type: "nvarchar(16)", maxLength: 16, nullable: false),
                    PublisherId = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Payload = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    PublishedAt = table.Column<DateTime>(type: "datetime2", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_OutboxMessages", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Projects",
                columns: table => new
                {
                    Id = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    DomainId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Projects", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "QuotaClassLimits",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    ClassName = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Resource = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    HardLimit = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_QuotaClassLimits", x => x.Id);
                });

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

            migrationBuilder.CreateTable(
                name: "RevokedTokens",
                columns: table => new
                {
                    AuditId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    ExpiresAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    RevokedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_RevokedTokens", x => x.AuditId);
                });

            migrationBuilder.CreateTable(
                name: "ServerGroups",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Policy = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false),
                    MaxServerPerHost = table.Column<int>(type: "int", nullable: true),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ServerGroups", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Servers",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Description = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    Host = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    Node = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    AvailabilityZone = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    VmState = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false),
                    TaskState = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    PowerState = table.Column<int>(type: "int", nullable: false),
                    Progress = table.Column<int>(type: "int", nullable: false),
                    Locked = table.Column<bool>(type: "bit", nullable: false),
                    LockedReason = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    Managed = table.Column<bool>(type: "bit", nullable: false),
                    Flavor = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    OldFlavor = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    NewFlavor = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Fault = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    PreviousHost = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    PreviousNode = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false),
                    LaunchedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    TerminatedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    ImageId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    Metadata = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    KeyName = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    RequestedNetworks = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    ReservationId = table.Column<string>(type: "nvarchar(16)", maxLength: 16, nullable: true),
                    LaunchIndex = table.Column<int>(type: "int", nullable: false),
                    SchedulerHints = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Addresses = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    Tags = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    AccessIPv4 = table.Column<string>(type: "nvarchar(45)", maxLength: 45, nullable: true),
                    AccessIPv6 = table.Column<string>(type: "nvarchar(45)", maxLength: 45, nullable: true),
                    LockedBy = table.Column<string>(type: "nvarchar(8)", maxLength: 8, nullable: true),
                    Version = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Servers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "TokenSigningKeys",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false),
                    Key = table.Column<byte[]>(type: "varbinary(max)", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_TokenSigningKeys", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Users",
                columns: table => new
                {
                    Id = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    DomainId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    PasswordHash = table.Column<string>(type: "nvarchar(512)", maxLength: 512, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Users", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "FlavorProjects",
                columns: table => new
                {
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    FlavorInternalId = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_FlavorProjects", x => new { x.FlavorInternalId, x.ProjectId });
                    table.ForeignKey(
                        name: "FK_FlavorProjects_Flavors_FlavorInternalId",
                        column: x => x.FlavorInternalId,
                        principalTable: "Flavors",
                        principalColumn: "InternalId",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "HostDrainItems",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    HostDrainId = table.Column<int>(type: "int", nullable: false),
                    ServerId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    ServerName = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Method = table.Column<string>(type: "nvarchar(16)", maxLength: 16, nullable: false),
                    Status = table.Column<string>(type: "nvarchar(16)", maxLength: 16, nullable: false),
                    MigrationUuid = table.Column<Guid>(type: "uniqueidentifier", nullable: true),
                    DestinationHost = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    Error = table.Column<string>(type: "nvarchar(1024)", maxLength: 1024, nullable: true),
                    Attempts = table.Column<int>(type: "int", nullable: false),
                    StartedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    FinishedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_HostDrainItems", x => x.Id);
                    table.ForeignKey(
                        name: "FK_HostDrainItems_HostDrains_HostDrainId",
                        column: x => x.HostDrainId,
                        principalTable: "HostDrains",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "InstanceActionEvents",
                columns: table => new
                {
                    Id = table.Column<int>(type: "int", nullable: false)
                        .Annotation("SqlServer:Identity", "1, 1"),
                    EventName = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: false),
                    Host = table.Column<string>(type: "nvarchar(255)", maxLength: 255, nullable: true),
                    StartTime = table.Column<DateTime>(type: "datetime2", nullable: false),
                    FinishTime = table.Column<DateTime>(type: "datetime2", nullable: true),
                    Result = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: true),
                    Traceback = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    Details = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    InstanceActionId = table.Column<int>(type: "int", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_InstanceActionEvents", x => x.Id);
                    table.ForeignKey(
                        name: "FK_InstanceActionEvents_InstanceActions_InstanceActionId",
                        column: x => x.InstanceActionId,
                        principalTable: "InstanceActions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "MigrationCheckpoints",
                columns: table => new
                {
                    MigrationId = table.Column<int>(type: "int", nullable: false),
                    StartRequestId = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    ConfirmOrRevertRequestId = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    RequestedHost = table.Column<string>(type: "nvarchar(max)", nullable: true),
                    SourceVmUuid = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    SourcePowerState = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: true),
                    MovePath = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: true),
                    SnapshotVmUuid = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    DestinationVmUuid = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: true),
                    Disks = table.Column<string>(type: "nvarchar(max)", nullable: false),
                    SourceHaltedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    RollbackReason = table.Column<string>(type: "nvarchar(1024)", maxLength: 1024, nullable: true),
                    XapiTaskRef = table.Column<string>(type: "nvarchar(128)", maxLength: 128, nullable: true),
                    AbortRequestedAt = table.Column<DateTime>(type: "datetime2", nullable: true),
                    UpdatedAt = table.Column<DateTime>(type: "datetime2", nullable: false)
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

            migrationBuilder.CreateTable(
                name: "ServerGroupMembers",
                columns: table => new
                {
                    GroupId = table.Column<Guid>(type: "uniqueidentifier", nullable: false),
                    ServerId = table.Column<Guid>(type: "uniqueidentifier", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ServerGroupMembers", x => new { x.GroupId, x.ServerId });
                    table.ForeignKey(
                        name: "FK_ServerGroupMembers_ServerGroups_GroupId",
                        column: x => x.GroupId,
                        principalTable: "ServerGroups",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "RoleAssignments",
                columns: table => new
                {
                    UserId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    ProjectId = table.Column<string>(type: "nvarchar(64)", maxLength: 64, nullable: false),
                    Role = table.Column<string>(type: "nvarchar(32)", maxLength: 32, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_RoleAssignments", x => new { x.UserId, x.ProjectId, x.Role });
                    table.ForeignKey(
                        name: "FK_RoleAssignments_Projects_ProjectId",
                        column: x => x.ProjectId,
                        principalTable: "Projects",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_RoleAssignments_Users_UserId",
                        column: x => x.UserId,
                        principalTable: "Users",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_ComputeHosts_Name",
                table: "ComputeHosts",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ComputeHosts_Uuid",
                table: "ComputeHosts",
                column: "Uuid",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Flavors_FlavorId",
                table: "Flavors",
                column: "FlavorId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Flavors_Name",
                table: "Flavors",
                column: "Name",
                unique: true);

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

            migrationBuilder.CreateIndex(
                name: "IX_HostDrainItems_HostDrainId",
                table: "HostDrainItems",
                column: "HostDrainId");

            migrationBuilder.CreateIndex(
                name: "IX_HostDrains_ActiveHost",
                table: "HostDrains",
                column: "Host",
                unique: true,
                filter: "\"Status\" IN ('Running', 'Cancelling')");

            migrationBuilder.CreateIndex(
                name: "IX_HostDrains_Host",
                table: "HostDrains",
                column: "Host");

            migrationBuilder.CreateIndex(
                name: "IX_HostDrains_Uuid",
                table: "HostDrains",
                column: "Uuid",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_InstanceActionEvents_InstanceActionId",
                table: "InstanceActionEvents",
                column: "InstanceActionId");

            migrationBuilder.CreateIndex(
                name: "IX_InstanceActions_ServerId_RequestId",
                table: "InstanceActions",
                columns: new[] { "ServerId", "RequestId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_KeyPairs_UserId_Name",
                table: "KeyPairs",
                columns: new[] { "UserId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_CreatedAt_Id",
                table: "Migrations",
                columns: new[] { "CreatedAt", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_InstanceUuid",
                table: "Migrations",
                column: "InstanceUuid");

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_Status",
                table: "Migrations",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_Uuid",
                table: "Migrations",
                column: "Uuid",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_OutboxMessages_PublishedAt",
                table: "OutboxMessages",
                column: "PublishedAt");

            migrationBuilder.CreateIndex(
                name: "IX_Projects_DomainId_Name",
                table: "Projects",
                columns: new[] { "DomainId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_QuotaClassLimits_ClassName_Resource",
                table: "QuotaClassLimits",
                columns: new[] { "ClassName", "Resource" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_QuotaLimits_ProjectId_Resource",
                table: "QuotaLimits",
                columns: new[] { "ProjectId", "Resource" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_RevokedTokens_ExpiresAt",
                table: "RevokedTokens",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_RoleAssignments_ProjectId",
                table: "RoleAssignments",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_ServerGroupMembers_ServerId",
                table: "ServerGroupMembers",
                column: "ServerId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ServerGroups_ProjectId",
                table: "ServerGroups",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_Servers_CreatedAt_Id",
                table: "Servers",
                columns: new[] { "CreatedAt", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_Servers_Host",
                table: "Servers",
                column: "Host");

            migrationBuilder.CreateIndex(
                name: "IX_Servers_ProjectId",
                table: "Servers",
                column: "ProjectId");

            migrationBuilder.CreateIndex(
                name: "IX_Servers_ReservationId",
                table: "Servers",
                column: "ReservationId");

            migrationBuilder.CreateIndex(
                name: "IX_Users_DomainId_Name",
                table: "Users",
                columns: new[] { "DomainId", "Name" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ComputeHosts");

            migrationBuilder.DropTable(
                name: "FlavorProjects");

            migrationBuilder.DropTable(
                name: "HostAggregates");

            migrationBuilder.DropTable(
                name: "HostDrainItems");

            migrationBuilder.DropTable(
                name: "InstanceActionEvents");

            migrationBuilder.DropTable(
                name: "KeyPairs");

            migrationBuilder.DropTable(
                name: "MigrationCheckpoints");

            migrationBuilder.DropTable(
                name: "OutboxMessages");

            migrationBuilder.DropTable(
                name: "QuotaClassLimits");

            migrationBuilder.DropTable(
                name: "QuotaLimits");

            migrationBuilder.DropTable(
                name: "RevokedTokens");

            migrationBuilder.DropTable(
                name: "RoleAssignments");

            migrationBuilder.DropTable(
                name: "ServerGroupMembers");

            migrationBuilder.DropTable(
                name: "Servers");

            migrationBuilder.DropTable(
                name: "TokenSigningKeys");

            migrationBuilder.DropTable(
                name: "Flavors");

            migrationBuilder.DropTable(
                name: "HostDrains");

            migrationBuilder.DropTable(
                name: "InstanceActions");

            migrationBuilder.DropTable(
                name: "Migrations");

            migrationBuilder.DropTable(
                name: "Projects");

            migrationBuilder.DropTable(
                name: "Users");

            migrationBuilder.DropTable(
                name: "ServerGroups");
        }
    }
}
