-- pandoc filter for avpn-site.toml(5): each table of docs/config.md becomes
-- a list, one entry per row: the first cell is the entry's tag, each other
-- non-empty cell a bullet "column: text". man renders tables at 80
-- columns badly (groff cannot fill or break their cells: lintian's
-- groff-message), and a tagged list is how man pages present options.
local utils = pandoc.utils

function Table(tbl)
  local headers = {}
  if tbl.head and #tbl.head.rows > 0 then
    for i, cell in ipairs(tbl.head.rows[1].cells) do
      headers[i] = utils.stringify(cell.contents)
    end
  end
  local items = {}
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.body) do
      local term = utils.blocks_to_inlines(row.cells[1].contents)
      -- A bullet per column: man keeps a list entry's paragraphs apart
      -- only as a nested list.
      local lines = {}
      for i = 2, #row.cells do
        local text = utils.blocks_to_inlines(row.cells[i].contents)
        if #text > 0 then
          local line = pandoc.List({})
          if headers[i] and headers[i] ~= "" then
            line:insert(pandoc.Emph({pandoc.Str(headers[i] .. ":")}))
            line:insert(pandoc.Space())
          end
          line:extend(text)
          table.insert(lines, {pandoc.Plain(line)})
        end
      end
      table.insert(items, {term, {pandoc.BulletList(lines)}})
    end
  end
  return pandoc.DefinitionList(items)
end
