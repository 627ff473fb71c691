import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import inet.ipaddr.IPAddressString;
import org.neo4j.cli.AdminTool;
import org.neo4j.cli.ExecutionContext;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.layout.DatabaseLayout;
import org.neo4j.kernel.database.Database;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * medkg's local Neo4j Community server: the in-process test harness with Bolt on 127.0.0.1
 * and APOC, run as a plain java process (no Docker).
 *
 * <pre>
 * java -cp lib/*:classes MedkgNeo4j WORK_DIR PORT PLUGIN_DIR PAGECACHE [IMPORT_HOME ARGS_FILE]
 * </pre>
 *
 * With IMPORT_HOME and ARGS_FILE the process also runs Neo4j's offline importer
 * ({@code neo4j-admin database import full}, through {@link AdminTool}) and serves the imported
 * database: one JVM start instead of two. The importer runs in a thread of its own while the
 * DBMS starts (system database, security, Bolt, procedures) beside it: it prepares, prints
 * {@code WAITING <epoch ms> <cpu ms>}, waits for a {@code GO} line on stdin (so the caller can
 * write the import files meanwhile), reads its arguments from ARGS_FILE (one per line; the
 * database name is the fourth) and imports into the staging data folder
 * IMPORT_HOME/conf/neo4j.conf names, IMPORT_HOME/data. Meanwhile the DBMS comes up with that
 * database as Neo4j creates it, prints {@code DBMS <epoch ms> <cpu ms>}, and stops it (Community
 * has no STOP DATABASE; the kernel's database object is stopped directly, as a store copy
 * does). Once the importer is done ({@code IMPORTED <epoch ms> <cpu ms>}) the imported store and
 * transaction folders replace the empty ones and the database starts on them (Bolt listens from
 * the DBMS start, but only READY says the imported database serves; medkg connects after it). A failed import
 * prints {@code MEDKG IMPORT FAILED}, stops the DBMS and exits 3 (4 when the caller gives up
 * before GO). The caller refuses to import
 * over an existing database unless asked to replace it.
 *
 * WORK_DIR holds the databases ({@code WORK_DIR/data}, kept across restarts) and the harness'
 * per-run folder (logs, deleted on a clean stop). PORT 0 binds a free port. The environment
 * must hold MEDKG_NEO4J_AUTH_USER and MEDKG_NEO4J_AUTH_PASSWORD: authentication is always on
 * and that user gets that password (read from the environment so it never shows in `ps`).
 * Locked down for a shared machine: LOAD CSV cannot read file URLs, Cypher (LOAD CSV, APOC)
 * cannot reach any network address, and only the pure APOC functions in {@link #APOC_ALLOWED}
 * are loaded (no file, network or admin procedures). The HTTP server (Browser) is off.
 * Prints {@code READY bolt://127.0.0.1:PORT} on stdout once Bolt accepts connections.
 */
public final class MedkgNeo4j {
    private MedkgNeo4j() {}

    /** The APOC parts that may load: pure functions on values, no I/O of any kind. */
    static final List<String> APOC_ALLOWED =
            List.of("apoc.version", "apoc.coll.*", "apoc.map.*", "apoc.text.*", "apoc.convert.*",
                    "apoc.number.*");

    public static void main(String[] args) throws Exception {
        if (args.length < 3 || args.length == 5 || args.length > 6) {
            System.err.println("usage: MedkgNeo4j WORK_DIR PORT PLUGIN_DIR [PAGECACHE [IMPORT_HOME ARGS_FILE]]");
            System.exit(2);
        }
        Path workDir = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        Path pluginDir = Path.of(args[2]).toAbsolutePath();
        String pagecache = args.length > 3 ? args[3] : "256m";
        String user = System.getenv("MEDKG_NEO4J_AUTH_USER");
        String password = System.getenv("MEDKG_NEO4J_AUTH_PASSWORD");
        boolean auth = user != null && !user.isEmpty() && password != null && !password.isEmpty();
        if (!auth) {
            System.err.println("MedkgNeo4j: MEDKG_NEO4J_AUTH_USER/PASSWORD must be set (auth is always on)");
            System.exit(2);
        }

        Files.createDirectories(workDir);
        Files.createDirectories(pluginDir);
        Path data = workDir.resolve("data");
        ImportJob job = args.length == 6
                ? new ImportJob(Path.of(args[4]).toAbsolutePath(), Path.of(args[5]).toAbsolutePath())
                : null;
        Thread importer = job == null ? null : new Thread(job, "medkg-import");
        if (importer != null) {
            importer.start();
        }
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(workDir)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.auth_enabled, true)
                .withConfig(GraphDatabaseSettings.allow_file_urls, false)
                .withConfig(GraphDatabaseInternalSettings.cypher_ip_blocklist,
                        List.of(new IPAddressString("0.0.0.0/0"), new IPAddressString("::/0")))
                .withConfig(GraphDatabaseSettings.data_directory, data)
                .withConfig(GraphDatabaseSettings.pagecache_memory, parseBytes(pagecache))
                .withConfig(GraphDatabaseSettings.plugin_dir, pluginDir)
                .withConfig(GraphDatabaseSettings.procedure_allowlist, APOC_ALLOWED)
                .withConfig(GraphDatabaseSettings.procedure_unrestricted, List.of())
                .build();

        AtomicBoolean closed = new AtomicBoolean();
        Runnable close = () -> {
            if (closed.compareAndSet(false, true)) {
                neo4j.close();
            }
        };
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                close.run();
            } finally {
                stopped.countDown();
            }
        }, "medkg-neo4j-shutdown"));

        setPassword(neo4j.databaseManagementService().database("system"), user, password);
        if (job != null) {
            mark("DBMS");
            serveImport(neo4j, job, importer, close);
        }
        URI bolt = neo4j.boltURI();
        mark("SERVING");
        System.out.println("READY bolt://127.0.0.1:" + bolt.getPort());
        System.out.flush();
        stopped.await();
    }

    /** Print {@code NAME <epoch ms> <process cpu ms>} (stage marks the caller times). */
    static synchronized void mark(String name) {
        long cpuNanos = ((com.sun.management.OperatingSystemMXBean)
                ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        System.out.println(name + " " + System.currentTimeMillis() + " " + cpuNanos / 1_000_000);
        System.out.flush();
    }

    /**
     * Stop the started DBMS's (empty) user database, wait for the importer, move the
     * imported store into its place and start it again. On a failed import: stop the DBMS,
     * exit 3 (4 when cancelled).
     */
    private static void serveImport(Neo4j neo4j, ImportJob job, Thread importer, Runnable close)
            throws Exception {
        importer.join(); // the database name comes with the importer's arguments
        if (job.code != 0) {
            System.out.println(job.code == 4 ? "IMPORT CANCELLED" : "MEDKG IMPORT FAILED (exit " + job.code + ")");
            System.out.flush();
            close.run();
            Runtime.getRuntime().halt(job.code == 4 ? 4 : 3);
        }
        GraphDatabaseAPI api = (GraphDatabaseAPI) neo4j.databaseManagementService().database(job.database);
        Database database = api.getDependencyResolver().resolveDependency(Database.class);
        DatabaseLayout layout = database.getDatabaseLayout();
        database.stop();
        Path staged = job.home.resolve("data");
        replace(staged.resolve("databases").resolve(job.database), layout.databaseDirectory());
        replace(staged.resolve("transactions").resolve(job.database), layout.getTransactionLogsDirectory());
        database.start();
    }

    private static void replace(Path from, Path to) throws IOException {
        deleteTree(to);
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * The offline importer, run in its own thread once the caller says GO (see the class
     * comment); {@code code} is its exit status (4: the caller gave up before GO).
     */
    static final class ImportJob implements Runnable {
        final Path home;
        final Path argsFile;
        volatile int code = 1;
        volatile String database = "neo4j";

        ImportJob(Path home, Path argsFile) {
            this.home = home;
            this.argsFile = argsFile;
        }

        @Override
        public void run() {
            try {
                ExecutionContext ctx = new ExecutionContext(home, home.resolve("conf"));
                AdminTool.getCommandLine(ctx); // loads the command classes while the caller writes files
                mark("WAITING");
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                if (!"GO".equals(in.readLine())) {
                    code = 4;
                    return;
                }
                List<String> importArgs = Files.readAllLines(argsFile, StandardCharsets.UTF_8);
                database = importArgs.get(3);
                code = AdminTool.execute(ctx, importArgs.toArray(new String[0]));
                System.out.flush();
                System.err.flush();
                if (code == 0) {
                    mark("IMPORTED");
                }
            } catch (Throwable e) {
                e.printStackTrace();
                code = 1;
            }
        }
    }

    /**
     * Give USER the password, with no forced change at first login (the harness default).
     * On a restart over kept data the user usually has that password already, and Neo4j
     * refuses to "change" a password to itself: that case is the goal reached, not an error.
     */
    private static void setPassword(GraphDatabaseService system, String user, String password) {
        Map<String, Object> params = Map.of("user", user, "password", password);
        String query = "neo4j".equals(user)
                ? "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED"
                : "CREATE OR REPLACE USER $user SET PASSWORD $password CHANGE NOT REQUIRED";
        try {
            system.executeTransactionally(query, params);
        } catch (RuntimeException e) {
            if (!samePassword(e)) {
                throw e;
            }
            system.executeTransactionally("ALTER USER $user SET PASSWORD CHANGE NOT REQUIRED", params);
        }
    }

    private static boolean samePassword(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && message.contains("Old password and new password cannot be the same")) {
                return true;
            }
        }
        return false;
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        long unit = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? ByteUnit.kibiBytes(1) : last == 'm' ? ByteUnit.mebiBytes(1) : ByteUnit.gibiBytes(1);
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * unit;
    }
}
