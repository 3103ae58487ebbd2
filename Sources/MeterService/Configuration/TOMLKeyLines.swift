/// Finds the line on which each key of a TOML document is written.
///
/// TOMLKit reports lines for syntax errors but exposes no source positions for the keys of a
/// parsed document, so semantic errors (a value out of range, an unknown key) are located by
/// this scanner over the text. It understands what `meterd.toml` uses: `[table]` and
/// `[[array.of.tables]]` headers, bare, quoted and dotted keys, and values (arrays, inline tables,
/// multi-line strings) that continue over several lines.
struct TOMLKeyLines: Sendable {
  private var lineOfPath: [String: Int] = [:]

  init(text: String) {
    var table = ""
    var arrayTableCounts: [String: Int] = [:]
    var continuation = ValueContinuation()
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let lineNumber = index + 1
      if continuation.isOpen {
        continuation.scan(rawLine)
        continue
      }
      let line = rawLine.drop { $0 == " " || $0 == "\t" }
      if line.hasPrefix("[[") {
        let name = Self.normalizedKey(Self.headerName(line.dropFirst(2), closing: "]]"))
        let count = (arrayTableCounts[name] ?? 0) + 1
        arrayTableCounts[name] = count
        table = "\(name)[\(count)]"
        record(table, lineNumber)
      } else if line.hasPrefix("[") {
        table = Self.normalizedKey(Self.headerName(line.dropFirst(), closing: "]"))
        record(table, lineNumber)
      } else if let equals = Self.indexOfAssignment(in: line) {
        let key = Self.normalizedKey(line[line.startIndex..<equals])
        guard !key.isEmpty else { continue }
        record(table.isEmpty ? key : "\(table).\(key)", lineNumber)
        continuation.scan(line[line.index(after: equals)...])
      }
    }
  }

  /// The line of `path` (e.g. `tariff.seasons[1].weekday`), or of its nearest enclosing key or
  /// table when the key itself is not written on a line of its own (inside an inline table).
  func line(of path: String) -> Int? {
    var candidate = Substring(path)
    while !candidate.isEmpty {
      if let line = lineOfPath[String(candidate)] { return line }
      guard let cut = candidate.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
      candidate = candidate[candidate.startIndex..<cut]
    }
    return nil
  }

  private mutating func record(_ path: String, _ line: Int) {
    if lineOfPath[path] == nil { lineOfPath[path] = line }
  }

  private static func headerName(_ text: Substring, closing: String) -> Substring {
    guard let end = text.range(of: closing)?.lowerBound else { return text }
    return text[text.startIndex..<end]
  }

  /// Position of the `=` that ends a key, ignoring `=` inside quoted key parts.
  private static func indexOfAssignment(in line: Substring) -> Substring.Index? {
    guard let first = line.first, first != "#" else { return nil }
    var quote: Character?
    for index in line.indices {
      let character = line[index]
      if let open = quote {
        if character == open { quote = nil }
      } else if character == "\"" || character == "'" {
        quote = character
      } else if character == "=" {
        return index
      }
    }
    return nil
  }

  /// `a . "b.c" . d` → `a.b.c.d`: the dotted path as the parsed table nests it.
  private static func normalizedKey(_ text: Substring) -> String {
    var parts: [String] = []
    var current = ""
    var quote: Character?
    for character in text {
      if let open = quote {
        if character == open { quote = nil } else { current.append(character) }
      } else if character == "\"" || character == "'" {
        quote = character
      } else if character == "." {
        parts.append(current)
        current = ""
      } else if character != " " && character != "\t" {
        current.append(character)
      }
    }
    parts.append(current)
    return parts.joined(separator: ".")
  }
}

/// Tracks whether a value goes on past the end of its line: open brackets or braces outside
/// strings, or an unterminated multi-line string.
private struct ValueContinuation {
  private var depth = 0
  private var multiLineQuote: String?

  var isOpen: Bool { depth > 0 || multiLineQuote != nil }

  mutating func scan(_ text: Substring) {
    var rest = text
    while let character = rest.first {
      if let quote = multiLineQuote {
        guard let end = rest.range(of: quote) else { return }
        multiLineQuote = nil
        rest = rest[end.upperBound...]
        continue
      }
      if rest.hasPrefix("\"\"\"") || rest.hasPrefix("'''") {
        multiLineQuote = String(rest.prefix(3))
        rest = rest.dropFirst(3)
        continue
      }
      switch character {
      case "#":
        return
      case "\"", "'":
        rest = rest.dropFirst()
        let closing = character
        var escaped = false
        while let next = rest.first {
          rest = rest.dropFirst()
          if escaped {
            escaped = false
          } else if next == "\\" && closing == "\"" {
            escaped = true
          } else if next == closing {
            break
          }
        }
        continue
      case "[", "{":
        depth += 1
      case "]", "}":
        depth = max(0, depth - 1)
      default:
        break
      }
      rest = rest.dropFirst()
    }
  }
}
