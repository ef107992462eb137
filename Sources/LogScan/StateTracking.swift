import Foundation
import Rules
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resumes text files where the state left them, and turns verdicts into a finding lifecycle.
public final class StateTracker {
    public private(set) var state: ScanState
    public let now: Double
    /// Notes for stderr (rotation seen, file replaced...), one line each.
    public private(set) var notes: [String] = []

    public init(state: ScanState, now: Double = Date().timeIntervalSince1970) {
        self.state = state
        self.now = now
    }

    /// Where the journal was read to this run (committed with the state).
    public func recordJournalCursor(_ cursor: String) { state.journalCursor = cursor }

    // MARK: text files

    /// Scans `path` from where the previous run stopped. A rename rotation (`path` → `path.1`)
    /// finishes the old file first; a copytruncate (file shorter than the offset, or its first bytes
    /// changed) finishes the copy when a sibling holds it, then reads `path` from the start; a
    /// different file at the path is read from the start.
    public func scan(path: String, scanner: TextScanner) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw InputError(path: path, reason: TextScanner.errnoText(errno)) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw InputError(path: path, reason: "is a directory (give the log files inside it)") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(path: path, reason: TextScanner.errnoText(errno)) }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { throw InputError(path: path, reason: TextScanner.errnoText(errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            // pipes, character devices: nothing to resume
            try scanner.scan(fd: fd, name: path)
            return
        }
        let dev = UInt64(st.st_dev), ino = UInt64(st.st_ino)
        var start: Int64 = 0, line = 0
        if let old = state.files[path] {
            if old.device == dev && old.inode == ino {
                if Int64(st.st_size) < old.offset || StateStore.fingerprint(fd: fd, length: old.fingerprintLength).0 != old.fingerprint {
                    notes.append("\(path): truncated or rewritten in place since the last run (copytruncate); reading it from the start")
                    try finishCopy(of: path, old: old, scanner: scanner)
                } else {
                    start = old.offset; line = old.line
                }
            } else {
                try finishRenamed(path: path, old: old, scanner: scanner)
            }
        }
        let end = try scanner.scan(fd: fd, name: path, startOffset: start, startLine: line)
        // lines in this file so far: the ones before `start` plus the ones read now
        let linesNow = line + countLines(fd: fd, from: start, to: end)
        let (fp, fpLen) = StateStore.fingerprint(fd: fd)
        state.files[path] = FileState(device: dev, inode: ino, offset: end, line: linesNow,
                                      fingerprint: fp, fingerprintLength: min(fpLen, Int(end)), seenAt: now)
        if state.files[path]!.fingerprintLength < fpLen {
            // fingerprint only what was consumed, so the held-back partial line may still change
            state.files[path]!.fingerprint = StateStore.fingerprint(fd: fd, length: Int(end)).0
        }
        if state.files.count > ScanState.maxFiles, let oldest = state.files.min(by: { $0.value.seenAt < $1.value.seenAt })?.key {
            state.files.removeValue(forKey: oldest)
        }
    }

    /// The old inode moved to a sibling (`path.1`, ...): read its rest under the sibling's name.
    func finishRenamed(path: String, old: FileState, scanner: TextScanner) throws {
        for sib in StateStore.siblings(of: path) {
            let sfd = open(sib, O_RDONLY | O_CLOEXEC)
            guard sfd >= 0 else { continue }
            defer { close(sfd) }
            var st = stat()
            guard fstat(sfd, &st) == 0, UInt64(st.st_dev) == old.device, UInt64(st.st_ino) == old.inode else { continue }
            if Int64(st.st_size) >= old.offset, StateStore.fingerprint(fd: sfd, length: old.fingerprintLength).0 == old.fingerprint {
                notes.append("\(path): rotated to \(sib); finished \(sib) from byte \(old.offset), then read the new \(path)")
                _ = try scanner.scan(fd: sfd, name: sib, startOffset: old.offset, startLine: old.line)
            } else {
                notes.append("\(path): rotated to \(sib), which was truncated since; reading the new \(path) from the start")
            }
            return
        }
        notes.append("\(path): a different file than in the last run (the old one was not found next to it); reading it from the start")
    }

    /// copytruncate copied the file to a sibling before truncating it: finish the copy from the offset.
    func finishCopy(of path: String, old: FileState, scanner: TextScanner) throws {
        for sib in StateStore.siblings(of: path) {
            let sfd = open(sib, O_RDONLY | O_CLOEXEC)
            guard sfd >= 0 else { continue }
            defer { close(sfd) }
            var st = stat()
            guard fstat(sfd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int64(st.st_size) >= old.offset,
                  StateStore.fingerprint(fd: sfd, length: old.fingerprintLength).0 == old.fingerprint else { continue }
            _ = try scanner.scan(fd: sfd, name: sib, startOffset: old.offset, startLine: old.line)
            return
        }
    }

    func countLines(fd: Int32, from: Int64, to: Int64) -> Int {
        var n = 0
        var pos = from
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while pos < to {
            let want = Int(min(Int64(buf.count), to - pos))
            let got = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(pos)) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            for i in 0..<got where buf[i] == 0x0A { n += 1 }
            pos += Int64(got)
        }
        return n
    }

    // MARK: findings

    static func entityKeys(_ v: Verdict) -> [String] {
        let e = v.entities
        return e.images.items + e.pods.items + e.containers.items + e.sandboxes.items + e.podUIDs.items + e.digests.items
    }

    static func primaryEntity(_ v: Verdict) -> String {
        (entityKeys(v).first ?? "") + (v.hosts.first.map { "@" + $0 } ?? "")
    }

    /// Marks this run's verdicts `new` or `ongoing` (count and first-seen carried over), adds open
    /// findings without new evidence as `ongoing`, and those without evidence for `resolveAfter`
    /// seconds as `resolved` (then forgets them). Returns all of them, most severe first.
    public func lifecycle(_ verdicts: [Verdict], rules: [Rule], resolveAfter: Double) -> [Verdict] {
        var byKey: [String: Int] = [:]
        for (i, f) in state.findings.enumerated() { byKey[f.key] = i }
        var touched = Set<Int>()
        var out: [Verdict] = []
        var added: [Finding] = []
        for var v in verdicts {
            let hostSuffix = v.hosts.first.map { "@" + $0 } ?? ""
            let candidates = [v.rule + "\u{1F}" + Self.primaryEntity(v)] + Self.entityKeys(v).map { v.rule + "\u{1F}" + $0 + hostSuffix }
            if let i = candidates.lazy.compactMap({ byKey[$0] }).first(where: { !touched.contains($0) }) {
                touched.insert(i)
                var f = state.findings[i]
                v.count += f.count
                if let a = f.firstSeen { v.firstSeen = min(v.firstSeen ?? a, a) }
                if let b = f.lastSeen { v.lastSeen = max(v.lastSeen ?? b, b) }
                v.status = "ongoing"
                f.count = min(v.count, ScanState.maxCount); f.firstSeen = v.firstSeen; f.lastSeen = v.lastSeen; f.lastEvidenceAt = now
                f.severity = v.severity.description; f.title = v.title
                state.findings[i] = f
            } else {
                v.status = "new"
                added.append(Finding(key: candidates[0], rule: v.rule, title: v.title, severity: v.severity.description,
                                     component: v.component, family: v.family, entity: Self.primaryEntity(v), count: min(v.count, ScanState.maxCount),
                                     firstSeen: v.firstSeen, lastSeen: v.lastSeen, firstReportedAt: now, lastEvidenceAt: now))
            }
            out.append(v)
        }
        var keep: [Finding] = []
        for (i, f) in state.findings.enumerated() {
            if touched.contains(i) { keep.append(f); continue }
            var v = Self.verdict(from: f, rules: rules)
            if now - f.lastEvidenceAt >= resolveAfter {
                v.status = "resolved"
            } else {
                v.status = "ongoing"
                keep.append(f)
            }
            out.append(v)
        }
        keep += added
        if keep.count > ScanState.maxFindings {
            keep.sort { $0.lastEvidenceAt > $1.lastEvidenceAt }
            keep.removeLast(keep.count - ScanState.maxFindings)
        }
        state.findings = keep
        out.sort {
            if $0.severity != $1.severity { return $0.severity > $1.severity }
            if ($0.status == "resolved") != ($1.status == "resolved") { return $1.status == "resolved" }
            if $0.count != $1.count { return $0.count > $1.count }
            return $0.rule < $1.rule
        }
        return out
    }

    /// A remembered finding as a verdict without evidence (its rule's texts when the rule still exists).
    static func verdict(from f: Finding, rules: [Rule]) -> Verdict {
        let r = rules.first { $0.id == f.rule }
        var ents = Entities()
        // "entity@host"; either side may be empty in a state file someone edited ("@" alone included)
        let parts = f.entity.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let ent = parts[0]
        if !ent.isEmpty { ents.addDetail("entity", ent) }
        return Verdict(rule: f.rule, title: f.title, severity: Severity(name: f.severity) ?? .warning, confidence: .high,
                       component: f.component, family: f.family,
                       rootCause: r?.rootCause.trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
                       remediation: r?.remediation.trimmingCharacters(in: .whitespacesAndNewlines) ?? "",
                       references: r?.references ?? [], note: "no new evidence in this run", entities: ents, versions: [],
                       count: f.count, firstSeen: f.firstSeen, lastSeen: f.lastSeen, evidence: [], absorbed: [], related: [],
                       hosts: parts.count == 2 && !parts[1].isEmpty ? [parts[1]] : [])
    }

    /// Adds this run's numbers to the running totals (Prometheus counters) and stamps the state.
    public func finishRun(stats: ScanStats) {
        // saturating at ScanState.maxCount, so the state stays loadable however long it runs
        state.linesTotal = min(state.linesTotal + stats.linesRead, ScanState.maxCount)
        state.bytesTotal = min(state.bytesTotal + stats.bytesRead, ScanState.maxCount)
        state.unparsedTotal = min(state.unparsedTotal + stats.unparsedLines, ScanState.maxCount)
        state.updatedAt = now
    }
}
