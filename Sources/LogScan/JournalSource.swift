import Foundation
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(CSystemd)
import CSystemd
#endif

/// Reads one journal source (the local journal, a directory, a set of files or an OS tree) with
/// libsystemd's sd-journal and feeds the engine: the prefilter runs over each MESSAGE's bytes
/// straight from the journal's memory map, and only candidate entries become `LogEntry`s.
public final class JournalSource {
    public let source: JournalSelection.Source
    /// What evidence names as its source.
    public let name: String
    /// Damaged or partly unreadable files: each says what was read and what was skipped.
    public private(set) var warnings: [JournalWarning] = []
    /// Entries handed to the engine (after the filters), over all reads.
    public private(set) var entries = 0
    /// Entries known to be lost to damage (from the files' headers), over all files.
    public private(set) var skippedEntries = 0
    /// Files that could not be read completely.
    public private(set) var damagedFiles = 0
    /// Fields that could not be read in otherwise readable entries.
    public private(set) var unreadableFields = 0
    private var reportedWarnings = 0
    private var reportedFields = 0

    /// Warnings not handed out before (follow mode reports them as they come).
    public func newWarnings() -> [JournalWarning] {
        defer { reportedWarnings = warnings.count }
        return Array(warnings.dropFirst(reportedWarnings))
    }

    let engine: Engine
    let prefilter: LiteralPrefilter
    let selection: JournalSelection
    let follow: Bool

    #if canImport(CSystemd)
    /// The journal proper, then read-once copies of truncated files.
    var handles: [Handle] = []
    var sinceUsec: UInt64?
    var untilUsec: UInt64?
    // Reused per entry: no allocation for entries that are not candidates.
    /// The MESSAGE lines holding rule literals, with the literals' ids.
    var hitLines: [(start: Int, end: Int, ids: [Int32])] = []
    var candidateLines: [[UInt8]] = []
    var hostBuf: [UInt8] = []
    var identBuf: [UInt8] = []
    var unitBuf: [UInt8] = []
    var tuneSample: [UInt8] = []
    #endif

    /// Opens every source of `selection`. Problems that leave a source unreadable (missing,
    /// permission, not a journal, no journal files) come back as `InputError`s; damage inside
    /// readable files becomes `warnings` of the source.
    public static func open(_ selection: JournalSelection, engine: Engine, follow: Bool = false) -> (sources: [JournalSource], errors: [InputError]) {
        let prefilter = LiteralPrefilter(literals: engine.compiled.literals)
        var sources: [JournalSource] = [], errors: [InputError] = []
        for s in selection.sources {
            do { sources.append(try JournalSource(s, selection: selection, engine: engine, prefilter: prefilter, follow: follow)) }
            catch let e as InputError { errors.append(e) }
            catch { errors.append(InputError(path: s.description, reason: "\(error)")) }
        }
        return (sources, errors)
    }

    public init(_ source: JournalSelection.Source, selection: JournalSelection, engine: Engine,
                prefilter: LiteralPrefilter? = nil, follow: Bool = false) throws {
        self.source = source
        self.name = source.description
        self.engine = engine
        self.prefilter = prefilter ?? LiteralPrefilter(literals: engine.compiled.literals)
        self.selection = selection
        self.follow = follow
        #if canImport(CSystemd)
        try openHandles()
        engine.stats.sources += 1
        #else
        throw InputError(path: source.description, reason: JournalSupport.unavailableMessage)
        #endif
    }

    /// Reads the entries available now (all of them on the first call) into the engine.
    /// `stop` is polled every few thousand entries. Returns the number of entries ingested.
    @discardableResult
    public func read(stop: () -> Bool = { false }) -> Int {
        #if canImport(CSystemd)
        var total = 0
        for h in handles where !h.finished {
            total += read(h, stop: stop)
            if stop() { break }
        }
        return total
        #else
        return 0
        #endif
    }

    /// The cursor of the last entry the journal proper was read to (for `--state`: resume after it).
    public var lastCursor: String? {
        #if canImport(CSystemd)
        guard let h = handles.first, !h.readOnce, h.ordinal > 0 || h.finished else { return nil }
        var c: UnsafeMutablePointer<CChar>?
        guard sd_journal_get_cursor(h.j, &c) >= 0, let c else { return nil }
        defer { free(c) }
        return String(cString: c)
        #else
        return nil
        #endif
    }

    /// Before the first `read()`: continue after the entry at `cursor` (an earlier run's
    /// `lastCursor`). Returns false when that entry is gone (vacuumed, or another journal): reading
    /// then starts at the first entry after its position, and entries in between may be lost.
    @discardableResult
    public func resume(after cursor: String) -> Bool {
        #if canImport(CSystemd)
        guard let h = handles.first, !h.readOnce, sd_journal_seek_cursor(h.j, cursor) >= 0 else { return false }
        let exact = sd_journal_next(h.j) > 0 && sd_journal_test_cursor(h.j, cursor) > 0
        // Seek again: the read starts at the cursor's position, skipping that entry if it is still there.
        _ = sd_journal_seek_cursor(h.j, cursor)
        h.skipCursor = exact ? cursor : nil
        return exact
        #else
        return false
        #endif
    }

    /// Waits up to `timeout` seconds for the journal to change (follow mode).
    public func wait(timeout: Double) -> JournalWaitResult {
        #if canImport(CSystemd)
        guard let h = handles.first, !h.readOnce else {
            usleep(useconds_t(min(timeout, 1) * 1e6))
            return .idle
        }
        let r = sd_journal_wait(h.j, UInt64(max(0, timeout) * 1e6))
        if r == -EINTR { return .interrupted }
        if r < 0 { return .failed(String(cString: strerror(-r))) }
        return r == Int32(SD_JOURNAL_NOP) ? .idle : .changed
        #else
        return .failed(JournalSupport.unavailableMessage)
        #endif
    }
}

#if canImport(CSystemd)
extension JournalSource {
    final class Handle {
        let j: OpaquePointer
        /// Files behind this handle, for damage accounting.
        var files: [(path: String, header: JournalFiles.Header?)]
        /// A salvage copy: read once, never followed.
        let readOnce: Bool
        /// Temporary files (salvage copies) removed with the handle.
        var tempPaths: [String] = []
        var truncatedBytes: (have: Int, want: UInt64)?
        var usageAtOpen: UInt64 = 0
        var checkedDamage = false
        var finished = false
        var ordinal = 0
        /// Truncated files are walked without sd-journal matches (a match lookup that meets the
        /// missing part fails the whole file); their entries are filtered here instead.
        var softFilter: SoftFilter?
        /// Set by `resume(after:)`: the first entry read is skipped when it is this one.
        var skipCursor: String?

        init(j: OpaquePointer, files: [(path: String, header: JournalFiles.Header?)], readOnce: Bool) {
            self.j = j; self.files = files; self.readOnce = readOnce
        }
        deinit {
            sd_journal_close(j)
            for p in tempPaths { unlink(p) }
        }
    }

    /// `sd_journal_open_files` (by path: which descriptors `sd_journal_close` closes differs
    /// between libsystemd versions for `sd_journal_open_files_fd`).
    static func openFiles(_ paths: [String]) -> (j: OpaquePointer?, r: Int32) {
        var cs: [UnsafePointer<CChar>?] = paths.map { UnsafePointer(strdup($0)) }
        cs.append(nil)
        defer { for c in cs { free(UnsafeMutablePointer(mutating: c)) } }
        var j: OpaquePointer?
        let r = cs.withUnsafeMutableBufferPointer { sd_journal_open_files(&j, $0.baseAddress, 0) }
        guard r >= 0, j != nil else { return (nil, r < 0 ? r : -EINVAL) }
        return (j, r)
    }

    enum FileCheck {
        case ok(JournalFiles.Header)
        case truncated(JournalFiles.Header, size: Int)
        case broken(String, JournalFiles.Header?)
        case unreadable(Int32)
        case notJournal
        case isDirectory
    }

    /// Looks at one file the way sd-journal will: can it be opened, and if not, why.
    static func check(_ path: String) -> FileCheck {
        var st = stat()
        guard stat(path, &st) == 0 else { return .unreadable(errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .unreadable(errno) }
        defer { Glibc.close(fd) }
        guard JournalFiles.Header.hasSignature(fd: fd) else { return .notJournal }
        let header = JournalFiles.Header.read(fd: fd)
        let (j, r) = openFiles([path])
        if let j { sd_journal_close(j); return header.map { .ok($0) } ?? .broken("unreadable header", nil) }
        guard let h = header, h.isPlausible else { return .broken("damaged header", nil) }
        if h.expectedSize > UInt64(st.st_size) { return .truncated(h, size: Int(st.st_size)) }
        return .broken(String(cString: strerror(-r)), h)
    }

    func warn(_ path: String, _ message: String) { warnings.append(JournalWarning(path: path, message: message)) }

    func openHandles() throws {
        if let s = selection.window.since { sinceUsec = UInt64(max(0, s) * 1e6) }
        if let u = selection.window.until { untilUsec = UInt64(max(0, u) * 1e6) }
        var main: OpaquePointer?
        var mainFiles: [(path: String, header: JournalFiles.Header?)] = []
        var mainPaths: [String] = []
        var salvage: [(path: String, header: JournalFiles.Header, size: Int)] = []

        /// Sorts the files of a directory tree into readable, salvageable and lost.
        func triage(_ files: [String], root: String) throws {
            var denied = 0
            for f in files {
                switch Self.check(f) {
                case .ok(let h): mainFiles.append((f, h))
                case .truncated(let h, let size): salvage.append((f, h, size))
                case .broken(let why, let h):
                    damagedFiles += 1
                    let n = h.map { Int(clamping: $0.nEntries) } ?? 0
                    skippedEntries += n
                    warn(f, "damaged journal file, cannot be opened (\(why)); skipped" + (n > 0 ? " (\(n) entries per its header)" : ""))
                case .unreadable(let e):
                    if e == EACCES || e == EPERM { denied += 1 } else { warn(f, JournalFiles.errnoText(e)) }
                case .notJournal:
                    warn(f, "not a journal file (no LPKSHHRH signature); skipped")
                case .isDirectory: break
                }
            }
            if denied > 0 {
                if mainFiles.isEmpty && salvage.isEmpty { throw InputError(path: root, reason: JournalFiles.errnoText(EACCES)) }
                warn(root, "\(denied) of \(files.count) journal files not readable (needs root or the systemd-journal group); read the others")
            }
            if mainFiles.isEmpty && salvage.isEmpty {
                throw InputError(path: root, reason: "no readable journal file among \(files.count) (see the warnings)" + warningsText())
            }
        }

        func listDir(_ dir: String, required: Bool) throws -> [String] {
            switch JournalFiles.list(dir: dir) {
            case .success(let f): return f
            case .failure(.missing): if required { throw InputError(path: dir, reason: "no such directory") }; return []
            case .failure(.notDirectory): throw InputError(path: dir, reason: "not a directory (give journal files with --journal-file)")
            case .failure(.permission): throw InputError(path: dir, reason: JournalFiles.errnoText(EACCES))
            case .failure(.other(let e)): throw InputError(path: dir, reason: String(cString: strerror(e)))
            }
        }

        func noFiles(_ where_: String, _ dir: String) -> InputError {
            var reason = "no journal files (*.journal) in \(where_)"
            if let names = JournalFiles.entries(dir), names.contains(where: { $0.hasSuffix(".log") || $0.hasSuffix(".txt") }) {
                reason += "; text logs are read as plain arguments (logscan FILE...)"
            }
            return InputError(path: dir, reason: reason)
        }

        switch source {
        case .system:
            let dirs = ["/var/log/journal", "/run/log/journal"]
            var files: [String] = []
            var denied = false
            for d in dirs {
                do { files += try listDir(d, required: false) } catch let e as InputError where e.reason.hasPrefix("permission") { denied = true }
            }
            if files.isEmpty {
                if denied { throw InputError(path: "/var/log/journal", reason: JournalFiles.errnoText(EACCES)) }
                throw InputError(path: "/var/log/journal", reason: "no journal files here or in /run/log/journal (not a systemd host, or journald keeps no journal); give a copied journal with --journal-dir")
            }
            let readable = files.filter { access($0, R_OK) == 0 }
            if readable.isEmpty { throw InputError(path: "/var/log/journal", reason: JournalFiles.errnoText(EACCES)) }
            if readable.count < files.count {
                warn("/var/log/journal", "\(files.count - readable.count) of \(files.count) journal files not readable (needs root or the systemd-journal group); read the others")
            }
            mainFiles = readable.map { ($0, nil) }
            let r = sd_journal_open(&main, Int32(SD_JOURNAL_LOCAL_ONLY))
            guard r >= 0, main != nil else { throw InputError(path: "journal", reason: "cannot open the journal: \(String(cString: strerror(-r)))") }

        case .directory(let dir):
            let files = try listDir(dir, required: true)
            if files.isEmpty { throw noFiles("this directory or its machine-id subdirectories", dir) }
            try triage(files, root: dir)
            if !mainFiles.isEmpty {
                let r = sd_journal_open_directory(&main, dir, 0)
                guard r >= 0, main != nil else { throw InputError(path: dir, reason: "cannot open the journal: \(JournalFiles.errnoText(-r, directory: true))") }
            }

        case .root(let root):
            var st = stat()
            guard stat(root, &st) == 0 else { throw InputError(path: root, reason: JournalFiles.errnoText(errno, directory: true)) }
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw InputError(path: root, reason: "not a directory (--journal-root takes an OS tree, e.g. a mounted image)") }
            let files = try listDir(root + "/var/log/journal", required: false) + listDir(root + "/run/log/journal", required: false)
            if files.isEmpty { throw noFiles("var/log/journal or run/log/journal under this root", root) }
            try triage(files, root: root)
            if !mainFiles.isEmpty {
                let r = sd_journal_open_directory(&main, root, Int32(SD_JOURNAL_OS_ROOT))
                guard r >= 0, main != nil else { throw InputError(path: root, reason: "cannot open the journal: \(JournalFiles.errnoText(-r, directory: true))") }
            }

        case .files(let paths):
            var problems: [String] = []
            for p in paths {
                if p == "-" {
                    problems.append("-: stdin is read as text; give '-' (and text files) before --journal-file, which takes every value up to the next option")
                    continue
                }
                switch Self.check(p) {
                case .ok(let h):
                    mainPaths.append(p); mainFiles.append((p, h))
                case .truncated(let h, let size): salvage.append((p, h, size))
                case .broken(let why, let h):
                    damagedFiles += 1
                    let n = h.map { Int(clamping: $0.nEntries) } ?? 0
                    skippedEntries += n
                    warn(p, "damaged journal file, cannot be opened (\(why)); skipped" + (n > 0 ? " (\(n) entries per its header)" : ""))
                case .unreadable(let e): problems.append("\(p): \(JournalFiles.errnoText(e))")
                case .notJournal: problems.append("\(p): not a journal file (no LPKSHHRH signature); text logs are plain arguments, given before --journal-file")
                case .isDirectory: problems.append("\(p): is a directory (use --journal-dir)")
                }
            }
            if !problems.isEmpty {
                let first = problems[0]
                let rest = problems.dropFirst().map { "\nlogscan: " + $0 }.joined()
                let colon = first.range(of: ": ")!
                throw InputError(path: String(first[..<colon.lowerBound]), reason: String(first[colon.upperBound...]) + rest)
            }
            if mainFiles.isEmpty && salvage.isEmpty {
                throw InputError(path: name, reason: "no readable journal file (see the warnings)" + warningsText())
            }
            if !mainPaths.isEmpty {
                let (j, r) = Self.openFiles(mainPaths)
                guard let j else { throw InputError(path: name, reason: "cannot open the journal files: \(String(cString: strerror(-r)))") }
                main = j
            }
            if follow && !mainPaths.isEmpty {
                warn(name, "--follow on --journal-file sees entries appended to these files but not files created by rotation; follow a directory with --journal-dir")
            }
        }

        if let main {
            let h = Handle(j: main, files: mainFiles, readOnce: false)
            handles.append(h)
        }
        for s in salvage {
            let fd = Glibc.open(s.path, O_RDONLY | O_CLOEXEC)
            var copy: (fd: Int32, path: String)?
            if fd >= 0 { copy = JournalFiles.salvageCopy(fd: fd, size: s.size, header: s.header); Glibc.close(fd) }
            var opened: (j: OpaquePointer?, r: Int32) = (nil, -EINVAL)
            if let c = copy { opened = Self.openFiles([c.path]); Glibc.close(c.fd) }
            guard let j = opened.j else {
                if let c = copy { unlink(c.path) }
                damagedFiles += 1
                skippedEntries += Int(clamping: s.header.nEntries)
                warn(s.path, "truncated journal file (\(s.size) of \(s.header.expectedSize) bytes) that cannot be read; skipped (\(s.header.nEntries) entries per its header)")
                continue
            }
            let h = Handle(j: j, files: [(s.path, s.header)], readOnce: true)
            h.tempPaths = copy.map { [$0.path] } ?? []
            h.truncatedBytes = (s.size, s.header.expectedSize)
            handles.append(h)
        }
        if handles.isEmpty { throw InputError(path: name, reason: "no readable journal file" + warningsText()) }

        // Boot, units, time: the same selection on every handle.
        let bootID = try resolveBoot()
        for h in handles {
            _ = sd_journal_set_data_threshold(h.j, 0)   // whole fields: long messages are not cut at 64 KiB
            if h.readOnce {
                sd_journal_flush_matches(h.j)
                h.softFilter = SoftFilter(selection, bootID: bootID)
            } else {
                try applyMatches(h.j, bootID: bootID)
            }
            if let s = sinceUsec { _ = sd_journal_seek_realtime_usec(h.j, s) } else { _ = sd_journal_seek_head(h.j) }
            var u: UInt64 = 0
            if sd_journal_get_usage(h.j, &u) >= 0 { h.usageAtOpen = u }
        }
    }

    func warningsText() -> String {
        warnings.isEmpty ? "" : ": " + warnings.map(\.description).joined(separator: "; ")
    }

    // MARK: matches

    func addMatch(_ j: OpaquePointer, _ m: String) throws {
        let r = m.withCString { sd_journal_add_match(j, $0, 0) }
        if r < 0 { throw InputError(path: name, reason: "bad journal match '\(m)': \(String(cString: strerror(-r)))") }
    }

    /// journalctl's `-u` for one unit: its own messages, its core dumps, systemd's messages about
    /// it and messages of privileged daemons about it. `exists` (reading a finished journal)
    /// leaves out the terms whose values the journal does not hold: each term costs a lookup
    /// per entry read. Returns the number of terms added.
    func addUnitMatches(_ j: OpaquePointer, _ unit: String, exists: ((String, String) -> Bool)?) throws -> Int {
        let has = exists ?? { _, _ in true }
        var n = 0
        if has("_SYSTEMD_UNIT", unit) {
            try addMatch(j, "_SYSTEMD_UNIT=" + unit)
            _ = sd_journal_add_disjunction(j); n += 1
        }
        if has("MESSAGE_ID", SoftFilter.coredumpMessageID) && has("COREDUMP_UNIT", unit) {
            try addMatch(j, "MESSAGE_ID=" + SoftFilter.coredumpMessageID)
            try addMatch(j, "_UID=0")
            try addMatch(j, "COREDUMP_UNIT=" + unit)
            _ = sd_journal_add_disjunction(j); n += 1
        }
        if has("UNIT", unit) {
            try addMatch(j, "_PID=1")
            try addMatch(j, "UNIT=" + unit)
            _ = sd_journal_add_disjunction(j); n += 1
        }
        if has("OBJECT_SYSTEMD_UNIT", unit) {
            try addMatch(j, "_UID=0")
            try addMatch(j, "OBJECT_SYSTEMD_UNIT=" + unit)
            _ = sd_journal_add_disjunction(j); n += 1
        }
        return n
    }

    func applyMatches(_ j: OpaquePointer, bootID: String?) throws {
        sd_journal_flush_matches(j)
        if let b = bootID {
            try addMatch(j, "_BOOT_ID=" + b)
            _ = sd_journal_add_conjunction(j)
        }
        guard !selection.allUnits else { return }
        // Values present per field, looked up once; only for a journal that will not grow (follow
        // mode must also match what arrives later).
        var present: [String: Set<String>] = [:]
        let exists: ((String, String) -> Bool)? = follow ? nil : { field, value in
            if present[field] == nil { present[field] = Set(self.uniqueValues(j, fields: [field])) }
            return present[field]!.contains(value)
        }
        var units: [String] = []
        for u in selection.effectiveUnits {
            if JournalSelection.isGlob(u) {
                let known = uniqueValues(j, fields: ["_SYSTEMD_UNIT", "COREDUMP_UNIT", "UNIT", "OBJECT_SYSTEMD_UNIT"])
                units += known.filter { fnmatch(u, $0, 0) == 0 }
            } else {
                units.append(u)
            }
        }
        var terms = 0
        var seen = Set<String>()
        for u in units where seen.insert(u).inserted { terms += try addUnitMatches(j, u, exists: exists) }
        if selection.includesKernel && exists?("_TRANSPORT", "kernel") != false {
            try addMatch(j, "_TRANSPORT=kernel")
            _ = sd_journal_add_disjunction(j); terms += 1
        }
        for id in selection.identifiers where exists?("SYSLOG_IDENTIFIER", id) != false {
            try addMatch(j, "SYSLOG_IDENTIFIER=" + id)
            _ = sd_journal_add_disjunction(j); terms += 1
        }
        if terms == 0 {
            // Nothing selected can be in this journal: a match that selects nothing, not no match at all.
            try addMatch(j, "_SYSTEMD_UNIT=" + (units.first ?? selection.effectiveUnits.first ?? "none") + ".logscan-none")
        }
        _ = sd_journal_add_conjunction(j)
    }

    func uniqueValues(_ j: OpaquePointer, fields: [String]) -> [String] {
        var out: [String] = []
        for f in fields {
            guard sd_journal_query_unique(j, f) >= 0 else { continue }
            var data: UnsafeRawPointer?
            var len = 0
            while sd_journal_enumerate_available_unique(j, &data, &len) > 0 {
                guard let d = data, len > f.utf8.count + 1 else { continue }
                let s = String(decoding: UnsafeRawBufferPointer(start: d, count: len).dropFirst(f.utf8.count + 1), as: UTF8.self)
                if !out.contains(s) { out.append(s) }
            }
            sd_journal_restart_unique(j)
        }
        return out
    }

    // MARK: boots

    /// Boot ids of the journal, oldest first (by each boot's first entry).
    func boots(_ j: OpaquePointer) -> [String] {
        sd_journal_flush_matches(j)
        var list: [(String, UInt64)] = []
        for id in uniqueValues(j, fields: ["_BOOT_ID"]) where id.count == 32 {
            sd_journal_flush_matches(j)
            guard (try? addMatch(j, "_BOOT_ID=" + id)) != nil else { continue }
            _ = sd_journal_seek_head(j)
            var t: UInt64 = .max
            if sd_journal_next(j) > 0 { _ = sd_journal_get_realtime_usec(j, &t) }
            list.append((id, t))
        }
        sd_journal_flush_matches(j)
        return list.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
    }

    func resolveBoot() throws -> String? {
        guard let want = selection.boot else { return nil }
        var all: [String] = []
        for h in handles { for b in boots(h.j) where !all.contains(b) { all.append(b) } }
        guard !all.isEmpty else { throw InputError(path: name, reason: "no boot ids in this journal, so --boot cannot select one") }
        func at(_ i: Int, _ what: String) throws -> String {
            guard all.indices.contains(i) else {
                throw InputError(path: name, reason: "no boot \(what): the journal holds \(all.count) boot\(all.count == 1 ? "" : "s") (\(-(all.count - 1))...0, or 1...\(all.count) from the oldest)")
            }
            return all[i]
        }
        switch want {
        case .offset(let n):
            var base = all.count - 1
            if case .system = source, let cur = Self.currentBootID(), let i = all.firstIndex(of: cur) { base = i }
            return n <= 0 ? try at(base + n, String(n)) : try at(n - 1, String(n))
        case .id(let id, let off):
            guard let i = all.firstIndex(of: id) else { throw InputError(path: name, reason: "boot \(id) is not in this journal") }
            return try at(i + off, off == 0 ? id : "\(id)\(off > 0 ? "+" : "")\(off)")
        }
    }

    static func currentBootID() -> String? {
        var id = sd_id128_t()
        guard sd_id128_get_boot(&id) >= 0 else { return nil }
        var buf = [CChar](repeating: 0, count: 33)
        return buf.withUnsafeMutableBufferPointer { p in
            sd_id128_to_string(id, p.baseAddress!)
            return String(cString: p.baseAddress!)
        }
    }

    // MARK: reading

    func read(_ h: Handle, stop: () -> Bool) -> Int {
        let j = h.j
        var n = 0
        while true {
            let r = sd_journal_next(j)
            if r == 0 { break }
            if r < 0 {
                warn(h.files.count == 1 ? h.files[0].path : name, "reading stopped part-way: \(String(cString: strerror(-r)))")
                h.finished = true
                break
            }
            if let c = h.skipCursor {
                h.skipCursor = nil
                if sd_journal_test_cursor(j, c) > 0 { continue }
            }
            // the time only when a window needs it; candidates fetch their own (`candidate`)
            var usec: UInt64 = 0
            if untilUsec != nil || sinceUsec != nil, sd_journal_get_realtime_usec(j, &usec) < 0 { usec = 0 }
            if let u = untilUsec, usec > u {
                if follow { continue }
                h.finished = true   // journalctl --until: stop at the first entry past it
                break
            }
            if let s = sinceUsec, usec < s { continue }
            guard entry(j, usec: usec, ordinal: h.ordinal + 1, filter: h.softFilter) else { continue }
            h.ordinal += 1
            n += 1
            if n & 0xFFF == 0, stop() { return n }
        }
        entries += n
        if !h.checkedDamage {
            h.checkedDamage = true
            accountDamage(h, read: n)
        }
        if h.readOnce { h.finished = true }
        return n
    }

    /// Damage inside a file that opened fine is not an error to sd-journal: it drops the file
    /// from iteration (a debug log only), ends an entry-array chain early or skips an entry. Signs
    /// of it: less disk usage of the open set than at open (a dropped file), a file whose last
    /// entry cannot be reached, or, with no filters, fewer entries read than the headers count.
    /// Then each suspect file is walked alone and what it lost reported.
    func accountDamage(_ h: Handle, read: Int) {
        if unreadableFields > reportedFields {
            warn(name, "\(unreadableFields - reportedFields) fields of otherwise readable entries could not be read (damaged data); those entries were scanned without them")
            reportedFields = unreadableFields
        }
        guard !h.files.isEmpty, h.files.allSatisfy({ $0.header != nil }) else { return }
        var now: UInt64 = 0
        // (Following a live journal, vacuuming also lowers the usage: no conclusion from it then.)
        let dropped = !follow && sd_journal_get_usage(h.j, &now) >= 0 && now < h.usageAtOpen
        let expected = h.files.reduce(0) { $0 + Int(clamping: $1.header!.nEntries) }
        let unfiltered = selection.allUnits && selection.window.isEmpty && selection.boot == nil
        let shortfall = unfiltered && read < expected
        var damagedHere = 0
        for f in h.files {
            let header = f.header!
            let path = h.tempPaths.first ?? f.path
            guard h.truncatedBytes != nil || dropped || shortfall || !Self.lastEntryReachable(path: path, entries: header.nEntries) else { continue }
            let readable = Self.readableEntries(path: path)
            let total = Int(clamping: header.nEntries)
            guard readable < total || h.truncatedBytes != nil else { continue }
            damagedFiles += 1
            damagedHere += 1
            skippedEntries += max(0, total - readable)
            if let t = h.truncatedBytes {
                warn(f.path, "truncated journal file (\(t.have) of \(t.want) bytes): \(readable) of \(total) entries readable, \(max(0, total - readable)) skipped")
            } else {
                warn(f.path, "damaged journal file: \(readable) of \(total) entries readable, \(total - readable) skipped")
            }
        }
        if damagedHere == 0 && (dropped || shortfall) {
            damagedFiles += 1
            if shortfall { skippedEntries += expected - read }
            warn(name, shortfall ? "\(expected - read) of \(expected) entries could not be read (damaged journal data)"
                                 : "a damaged journal file was dropped part-way through reading; the entries after the damage were skipped")
        }
    }

    /// Whether iteration reaches a file's last entry: a broken entry-array chain ends it early.
    static func lastEntryReachable(path: String, entries: UInt64) -> Bool {
        guard entries > 0 else { return true }
        guard let j = openFiles([path]).j else { return false }
        defer { sd_journal_close(j) }
        return sd_journal_seek_tail(j) >= 0 && sd_journal_previous(j) > 0
    }

    /// Entries reachable by plain iteration of one file.
    static func readableEntries(path: String) -> Int {
        guard let j = openFiles([path]).j else { return 0 }
        defer { sd_journal_close(j) }
        var n = 0
        while sd_journal_next(j) > 0 { n += 1 }
        return n
    }

    /// Collects the first messages until there is enough to tune the prefilter's key pairs on.
    func sample(_ p: UnsafePointer<UInt8>, _ n: Int) {
        tuneSample.append(contentsOf: UnsafeBufferPointer(start: p, count: min(n, 4096)))
        tuneSample.append(0x0A)
        if tuneSample.count >= 256 << 10 {
            tuneSample.withUnsafeBufferPointer { prefilter.tune(sample: $0) }
            tuneSample = []
        }
    }

    @inline(__always)
    static func field(_ p: UnsafePointer<UInt8>, _ len: Int, _ name: StaticString) -> Bool {
        let k = name.utf8CodeUnitCount
        return len >= k && memcmp(p, name.utf8Start, k) == 0
    }

    /// One entry: one `sd_journal_enumerate_data` pass copying the few fields needed; the
    /// prefilter runs on MESSAGE in place and a non-candidate entry ends the pass right there.
    func entry(_ j: OpaquePointer, usec: UInt64, ordinal: Int, filter: SoftFilter?) -> Bool {
        sd_journal_restart_data(j)
        hostBuf.removeAll(keepingCapacity: true)
        identBuf.removeAll(keepingCapacity: true)
        unitBuf.removeAll(keepingCapacity: true)
        hitLines.removeAll(keepingCapacity: true)
        var pid: Int?
        var priority = -1
        var haveMessage = false
        var messageLength = 0
        var cutLines = 0
        var soft: SoftFilter.Fields? = filter == nil ? nil : SoftFilter.Fields()
        var data: UnsafeRawPointer?
        var len = 0
        fields: while true {
            var r = sd_journal_enumerate_data(j, &data, &len)
            if r == 0 { break }
            if r < 0 {
                // A damaged or undecodable field: count it and step over it.
                unreadableFields += 1
                r = sd_journal_enumerate_available_data(j, &data, &len)
                if r <= 0 { break }
            }
            guard let d = data, len > 2 else { continue }
            let p = d.assumingMemoryBound(to: UInt8.self)
            switch p[0] {
            case UInt8(ascii: "M"):
                if soft != nil, Self.field(p, len, "MESSAGE_ID=") { soft?.messageID = Self.value(p, len, 11); continue }
                guard !haveMessage, Self.field(p, len, "MESSAGE=") else { continue }
                haveMessage = true
                let body = p + 8, n = len - 8
                messageLength = n
                if !prefilter.tuned { sample(body, n) }
                prefilter.scan(body, count: n) { s, e, hit in self.hitLines.append((s, e, hit)) }
                if hitLines.isEmpty {
                    if filter == nil { break fields }
                    continue
                }
                // A multi-line MESSAGE is taken line by line, as `journalctl -o short | logscan` would.
                candidateLines.removeAll(keepingCapacity: true)
                for h in hitLines {
                    let end = min(h.end, h.start + TextScanner.maxLineBytes)
                    if end < h.end { cutLines += 1 }
                    candidateLines.append(Array(UnsafeBufferPointer(start: body + h.start, count: end - h.start)))
                }
            case UInt8(ascii: "_"):
                if Self.field(p, len, "_HOSTNAME=") {
                    hostBuf.append(contentsOf: UnsafeBufferPointer(start: p + 10, count: min(len - 10, 256)))
                } else if Self.field(p, len, "_PID=") {
                    var v = 0, k = 5
                    while k < len, k < 16, p[k] >= 0x30, p[k] <= 0x39 { v = v * 10 + Int(p[k] - 0x30); k += 1 }
                    if k > 5 { pid = v }
                } else if Self.field(p, len, "_SYSTEMD_UNIT=") {
                    unitBuf.append(contentsOf: UnsafeBufferPointer(start: p + 14, count: min(len - 14, 256)))
                } else if soft != nil {
                    if Self.field(p, len, "_TRANSPORT=") { soft?.transport = Self.value(p, len, 11) }
                    else if Self.field(p, len, "_UID=") { soft?.uid = Self.value(p, len, 5) }
                    else if Self.field(p, len, "_BOOT_ID=") { soft?.boot = Self.value(p, len, 9) }
                }
            case UInt8(ascii: "S"):
                if Self.field(p, len, "SYSLOG_IDENTIFIER=") {
                    identBuf.append(contentsOf: UnsafeBufferPointer(start: p + 18, count: min(len - 18, 256)))
                }
            case UInt8(ascii: "P"):
                if len == 10, Self.field(p, len, "PRIORITY="), p[9] >= 0x30, p[9] <= 0x37 { priority = Int(p[9] - 0x30) }
            case UInt8(ascii: "U"):
                if soft != nil, Self.field(p, len, "UNIT=") { soft?.unitField = Self.value(p, len, 5) }
            case UInt8(ascii: "C"):
                if soft != nil, Self.field(p, len, "COREDUMP_UNIT=") { soft?.coredumpUnit = Self.value(p, len, 14) }
            case UInt8(ascii: "O"):
                if soft != nil, Self.field(p, len, "OBJECT_SYSTEMD_UNIT=") { soft?.objectUnit = Self.value(p, len, 20) }
            default: continue
            }
        }
        if let f = filter, var fields = soft {
            fields.unit = String(decoding: unitBuf, as: UTF8.self)
            fields.ident = String(decoding: identBuf, as: UTF8.self)
            fields.pid = pid
            guard f.matches(fields) else { return false }
        }
        engine.stats.entriesRead += 1
        engine.stats.linesRead += 1
        engine.stats.bytesRead += messageLength
        guard haveMessage, !hitLines.isEmpty else { return true }
        engine.stats.truncatedLines += cutLines
        engine.stats.unparsedLines += cutLines
        candidate(j, usec: usec, ordinal: ordinal, pid: pid, priority: priority)
        return true
    }

    static func value(_ p: UnsafePointer<UInt8>, _ len: Int, _ skip: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: p + skip, count: min(len - skip, 256)), as: UTF8.self)
    }

    /// A candidate entry becomes a `LogEntry` per hit line, shaped as the text path shapes a
    /// journal line: prefix fields from the journal, level and time refined from the message.
    func candidate(_ j: OpaquePointer, usec windowUsec: UInt64, ordinal: Int, pid: Int?, priority: Int) {
        var usec = windowUsec
        if usec == 0, sd_journal_get_realtime_usec(j, &usec) < 0 { usec = 0 }
        let host = hostBuf.isEmpty ? nil : String(decoding: hostBuf, as: UTF8.self)
        var unit: String?
        if !identBuf.isEmpty { unit = String(decoding: identBuf, as: UTF8.self) }
        else if !unitBuf.isEmpty {
            let u = String(decoding: unitBuf, as: UTF8.self)
            unit = u.hasSuffix(".service") ? String(u.dropLast(8)) : u
        }
        var cursor: String?
        var c: UnsafeMutablePointer<CChar>?
        if sd_journal_get_cursor(j, &c) >= 0, let c { cursor = String(cString: c); free(c) }
        let t = Double(usec) / 1e6
        let prefix = Self.isoMicros(usec) + " " + (host ?? "localhost") + " " + (unit ?? "unknown") + (pid.map { "[\($0)]" } ?? "") + ": "
        for (i, var line) in candidateLines.enumerated() {
            engine.stats.candidateLines += 1
            while let l = line.last, l == 0x0D { line.removeLast() }
            if line.contains(0) {
                engine.stats.unparsedLines += 1
                for k in line.indices where line[k] == 0 { line[k] = 0x20 }
            } else if String(validating: line, as: UTF8.self) == nil {
                engine.stats.unparsedLines += 1
            }
            let message = String(decoding: line, as: UTF8.self)
            var e = LogEntry(timestamp: t, host: host, unit: unit, pid: pid,
                             level: priority >= 0 ? LineParser.priorityLevel(priority) : nil,
                             message: message, format: .journalJSON)
            e = LineParser.inner(e, yearHint: CivilTime.components(t).year)
            e.yearKnown = true
            e.cursor = cursor
            engine.ingest(entry: e, rawText: prefix + message, literalIDs: hitLines[i].ids,
                          pos: SourcePos(source: name, line: ordinal, cursor: cursor))
        }
    }

    /// `2026-11-29T10:01:02.118305Z`
    static func isoMicros(_ usec: UInt64) -> String {
        let c = CivilTime.components(Double(usec / 1_000_000))
        func p(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(c.year, 4))-\(p(c.month, 2))-\(p(c.day, 2))T\(p(c.hour, 2)):\(p(c.minute, 2)):\(p(c.second, 2)).\(p(Int(usec % 1_000_000), 6))Z"
    }
}
#endif
