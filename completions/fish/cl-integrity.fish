function __cl-integrity_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-integrity_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-integrity_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-integrity_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-integrity_parse_tokens -S
    set -l unparsed_tokens (__cl-integrity_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-integrity'
        __cl-integrity_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'scan'
            __cl-integrity_parse_subcommand 0 'root=' 'rules=' 'cache=' 'threads=' 'stats' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'compare'
            __cl-integrity_parse_subcommand 2 'rules=' 'max-delete-fraction=' 'force' 'json-errors' 'version' 'h/help'
        case 'pack'
            __cl-integrity_parse_subcommand 0 'root=' 'rules=' 'max-size=' 'output=' 'summary' 'threads=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'unpack'
            __cl-integrity_parse_subcommand 0 'into=' 'max-total-bytes=' 'max-metadata-bytes=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'apply'
            __cl-integrity_parse_subcommand 0 'root=' 'rules=' 'dry-run' 'owner=' 'durability=' 'threads=' 'max-delete-fraction=' 'force' 'max-total-bytes=' 'max-metadata-bytes=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'check'
            __cl-integrity_parse_subcommand 0 'root=' 'against=' 'rules=' 'cache=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'help'
            __cl-integrity_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-integrity_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-integrity_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __cl-integrity_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-integrity_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-integrity_tokens -p)
    if test -z "$(__cl-integrity_tokens -t)"
        set -l index (count (__cl-integrity_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-integrity' -f
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'scan' -d 'Print the integrity snapshot of a root (files_metadata.json, byte for byte).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'compare' -d 'Classify a worker\'s snapshot against the master\'s: {"missing", "extra", "shared"}.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'pack' -d 'Build the master-to-worker container from a classification on stdin.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'unpack' -d 'Extract a container from stdin into a directory.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'apply' -d 'Apply a master-to-worker container from stdin to a root.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'check' -d 'Compare a root with a saved snapshot: exit 0 when identical, 1 with a JSON diff when not.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_positional "cl-integrity" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" root' -l 'root' -d 'The installation root (WAZUH_PATH) the rule keys are relative to.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" rules' -l 'rules' -d 'Read the file rules from this cluster.json (its "files" section) or bare rules object. Default: the reference\'s stock rules.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" cache' -l 'cache' -d 'Keep file digests in this cache file between scans.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" threads' -l 'threads' -d 'Threads that hash files (default: the number of cores).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" stats' -l 'stats' -d 'Print the scan\'s counters as one JSON line on stderr when done.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity scan" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" rules' -l 'rules' -d 'Read the file rules from this cluster.json (its "files" section) or bare rules object. Default: the reference\'s stock rules.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" max-delete-fraction' -l 'max-delete-fraction' -d 'Refuse a classification that deletes more than this fraction of a rule\'s files.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" force' -l 'force' -d 'Apply even what the deletion guard refuses (mass deletion, empty master snapshot).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity compare" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" root' -l 'root' -d 'The root the files are read from.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" rules' -l 'rules' -d 'Read the file rules from this cluster.json (its "files" section) or bare rules object. Default: the reference\'s stock rules.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" max-size' -l 'max-size' -d 'The container size limit (bytes, or with K, M, G).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" output' -l 'output' -d 'Write the container to this file (atomically) instead of stdout.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" summary' -l 'summary' -d 'Print a JSON summary (entries, dropped files, bytes) on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" threads' -l 'threads' -d 'Threads that read and deflate files (default: the number of cores); the container is the same for any number.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity pack" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" into' -l 'into' -d 'The directory to extract into (created if needed).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" max-total-bytes' -l 'max-total-bytes' -d 'Refuse a container that decompresses to more than this (bytes, or with K, M, G).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" max-metadata-bytes' -l 'max-metadata-bytes' -d 'Refuse a files_metadata.json larger than this once decompressed.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity unpack" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" root' -l 'root' -d 'The root to update.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" rules' -l 'rules' -d 'Read the file rules from this cluster.json (its "files" section) or bare rules object. Default: the reference\'s stock rules.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" dry-run' -l 'dry-run' -d 'Verify and print the plan; change nothing.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" owner' -l 'owner' -d 'Give written files to this owner (USER[:GROUP], names or ids).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" durability' -l 'durability' -d 'How staged data is flushed before the renames: syncfs (one flush of the file system), fsync (each file), none.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" threads' -l 'threads' -d 'Threads that create and write the staged files (default: the number of cores); the tree and the report are the same for any number.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" max-delete-fraction' -l 'max-delete-fraction' -d 'Refuse a classification that deletes more than this fraction of a rule\'s files.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" force' -l 'force' -d 'Apply even what the deletion guard refuses (mass deletion, empty master snapshot).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" max-total-bytes' -l 'max-total-bytes' -d 'Refuse a container that decompresses to more than this (bytes, or with K, M, G).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" max-metadata-bytes' -l 'max-metadata-bytes' -d 'Refuse a files_metadata.json larger than this once decompressed.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity apply" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" root' -l 'root' -d 'The root to scan.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" against' -l 'against' -d 'The snapshot to compare with (a file, or - for stdin).' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" rules' -l 'rules' -d 'Read the file rules from this cluster.json (its "files" section) or bare rules object. Default: the reference\'s stock rules.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" cache' -l 'cache' -d 'Keep file digests in this cache file between runs.' -rfka ''
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" version' -l 'version' -d 'Show the version.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity check" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-integrity' -n '__cl-integrity_should_offer_completions_for_flags_or_options "cl-integrity help" version' -l 'version' -d 'Show the version.'
