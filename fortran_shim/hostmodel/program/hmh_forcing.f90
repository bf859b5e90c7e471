!> The host program's forcing file: checked once when opened (every variable present with
!! the contract's units, cells matching the domain, noleap time axis with the model's step),
!! then read a coupling interval at a time for this rank's cells only.
!!
!! Layouts: dims (time, cell) with cell = global id - 1, or (time, lat, lon)
!! of a regular grid whose flattened order is the domain's id order.
module hmh_forcing
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use netcdf
  use hm_constants, only: nforc
  use hm_errors, only: fmt_int
  use hmh_grid, only: domain_t
  use hmh_time, only: parse_time_units, date_string
  implicit none
  private

  character(len=8), parameter, public :: forcing_names(nforc) = [character(len=8) :: 'FSDS', &
       'FLDS', 'TBOT', 'QBOT', 'WIND', 'PSRF', 'PRECTmms']
  character(len=10), parameter :: canonical_units(nforc) = [character(len=10) :: 'W m-2', &
       'W m-2', 'K', 'kg kg-1', 'm s-1', 'Pa', 'kg m-2 s-1']
  ! accepted spellings of each canonical unit (as emulators/data/forcing.py accepts them)
  character(len=12), parameter :: aliases(5, nforc) = reshape([character(len=12) :: &
       'W m-2', 'W/m2', 'W m^-2', 'W/m^2', 'W.m-2', &
       'W m-2', 'W/m2', 'W m^-2', 'W/m^2', 'W.m-2', &
       'K', 'kelvin', 'degK', 'K', 'K', &
       'kg kg-1', 'kg/kg', '1', 'kg kg^-1', 'kg kg-1', &
       'm s-1', 'm/s', 'm s^-1', 'm s-1', 'm s-1', &
       'Pa', 'pascal', 'Pa', 'Pa', 'Pa', &
       'kg m-2 s-1', 'kg/m2/s', 'mm s-1', 'mm/s', 'kg m^-2 s^-1'], [5, nforc])

  !> An open forcing file.
  type, public :: forcing_t
    character(len=:), allocatable :: path   !! file name
    integer :: ncid = -1                    !! netCDF id
    integer :: varid(nforc) = -1            !! variable ids, forcing_names order
    integer :: ntime = 0                    !! time steps in the file
    logical :: gridded = .false.            !! (time, lat, lon) layout
    integer :: nx = 0                       !! fastest spatial dimension (cell or lon)
    integer :: ny = 1                       !! second spatial dimension (lat) or 1
    real(real64) :: dt = 0                  !! time step (s)
    integer(int64) :: t_first = 0           !! start of step 1, seconds since 0001-01-01
  end type forcing_t

  public :: open_forcing, read_steps, close_forcing

contains

  !> Open and check a forcing file against the domain and the model time step.
  subroutine open_forcing(path, dom, dt_model, ff, message)
    character(len=*), intent(in) :: path                   !! forcing file
    type(domain_t), intent(in) :: dom                      !! the domain it must match
    real(real64), intent(in) :: dt_model                   !! the physics time step (s)
    type(forcing_t), intent(out) :: ff                     !! the open file
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: st, v, ndims, dimids(3), lens(3), tid, k, cell_ok
    character(len=64) :: units, cal
    character(len=:), allocatable :: tunits, msg2
    real(real64) :: factor
    real(real64), allocatable :: tvals(:), clat(:), clon(:)
    integer(int64) :: ref
    message = ""
    ff%path = path
    st = nf90_open(path, nf90_nowrite, ff%ncid)
    if (st /= nf90_noerr) then
      message = "cannot open forcing file '"//path//"': "//trim(nf90_strerror(st))
      return
    end if
    do v = 1, nforc
      if (nf90_inq_varid(ff%ncid, trim(forcing_names(v)), ff%varid(v)) /= nf90_noerr) then
        message = "forcing file '"//path//"' has no variable '"//trim(forcing_names(v))// &
             "' (expected FSDS, FLDS, TBOT, QBOT, WIND, PSRF, PRECTmms)"
        return
      end if
      units = ''
      st = nf90_get_att(ff%ncid, ff%varid(v), 'units', units)
      if (st /= nf90_noerr .or. .not. any(aliases(:, v) == units)) then
        message = "forcing file '"//path//"': "//trim(forcing_names(v))//" has units '"// &
             trim(units)//"'; expected '"//trim(canonical_units(v))//"'"
        return
      end if
      st = nf90_inquire_variable(ff%ncid, ff%varid(v), ndims=ndims)
      if (ndims < 2 .or. ndims > 3) then
        message = "forcing file '"//path//"': "//trim(forcing_names(v))// &
             " must have dims (time, cell) or (time, lat, lon)"
        return
      end if
      st = nf90_inquire_variable(ff%ncid, ff%varid(v), dimids=dimids(:ndims))
      lens = 1
      do k = 1, ndims
        st = nf90_inquire_dimension(ff%ncid, dimids(k), len=lens(k))
      end do
      if (v == 1) then
        ff%gridded = ndims == 3
        ff%nx = lens(1)
        ff%ny = merge(lens(2), 1, ndims == 3)
        ff%ntime = lens(ndims)
      else if (lens(1) /= ff%nx .or. (ndims == 3) .neqv. ff%gridded) then
        message = "forcing file '"//path//"': "//trim(forcing_names(v))// &
             " does not have the dims of FSDS"
        return
      end if
    end do
    if (ff%nx * ff%ny /= dom%n .or. (ff%gridded .and. (ff%nx /= dom%ni .or. ff%ny /= dom%nj))) then
      message = "forcing file '"//path//"' has "//fmt_int(ff%nx * ff%ny)//" cells ("// &
           fmt_int(ff%nx)//" x "//fmt_int(ff%ny)//") but the domain '"//dom%path//"' has "// &
           fmt_int(dom%n)//" ("//fmt_int(dom%ni)//" x "//fmt_int(dom%nj)//")"
      return
    end if
    ! cell positions, when the file has them
    if (nf90_inq_varid(ff%ncid, 'lat', k) == nf90_noerr) then
      cell_ok = 0
      if (ff%gridded) then
        allocate (clat(ff%ny), clon(ff%nx))
        st = nf90_get_var(ff%ncid, k, clat)
        if (nf90_inq_varid(ff%ncid, 'lon', k) == nf90_noerr) st = nf90_get_var(ff%ncid, k, clon)
        do k = 1, dom%n
          if (cell_mismatch(clat((k - 1) / dom%ni + 1), clon(mod(k - 1, dom%ni) + 1), &
               dom%lat(k), dom%lon(k))) then
            cell_ok = k
            exit
          end if
        end do
      else
        allocate (clat(ff%nx), clon(ff%nx))
        st = nf90_get_var(ff%ncid, k, clat)
        if (nf90_inq_varid(ff%ncid, 'lon', k) == nf90_noerr) st = nf90_get_var(ff%ncid, k, clon)
        do k = 1, dom%n
          if (cell_mismatch(clat(k), clon(k), dom%lat(k), dom%lon(k))) then
            cell_ok = k
            exit
          end if
        end do
      end if
      if (cell_ok > 0) then
        message = "forcing file '"//path//"' does not match the domain '"//dom%path// &
             "': cell id "//fmt_int(cell_ok)//" is at "//latlon(clat, clon, cell_ok, ff%gridded, &
             dom%ni)//" in the forcing but at "//ftoa(dom%lat(cell_ok))//", "// &
             ftoa(dom%lon(cell_ok))//" in the domain"
        return
      end if
    end if
    ! time axis
    if (nf90_inq_varid(ff%ncid, 'time', tid) /= nf90_noerr) then
      message = "forcing file '"//path//"' has no 'time' variable"
      return
    end if
    units = ''
    st = nf90_get_att(ff%ncid, tid, 'units', units)
    tunits = trim(units)
    call parse_time_units(tunits, factor, ref, msg2)
    if (msg2 /= "") then
      message = "forcing file '"//path//"': "//msg2
      return
    end if
    cal = 'standard'
    st = nf90_get_att(ff%ncid, tid, 'calendar', cal)
    if (cal /= 'noleap' .and. cal /= '365_day' .and. cal /= 'no_leap') then
      message = "forcing file '"//path//"': calendar '"//trim(cal)// &
           "'; the host runs in the noleap calendar"
      return
    end if
    allocate (tvals(ff%ntime))
    st = nf90_get_var(ff%ncid, tid, tvals)
    if (ff%ntime < 2) then
      message = "forcing file '"//path//"' has fewer than 2 time steps"
      return
    end if
    ff%dt = (tvals(2) - tvals(1)) * factor
    if (abs(ff%dt - dt_model) > 1.e-6_real64) then
      message = "forcing file '"//path//"' has a time step of "//ftoa(ff%dt)// &
           " s; the host physics needs "//ftoa(dt_model)//" s steps (write it with "// &
           "`landemu forcing` without --daily)"
      return
    end if
    ff%t_first = ref + nint(tvals(1) * factor, int64)
  end subroutine open_forcing

  !> Read steps k0 .. k0+nsteps-1 (1-based) of this rank's cells: forc(nforc, n_local, nsteps).
  subroutine read_steps(ff, k0, nsteps, ids, forc, message)
    type(forcing_t), intent(in) :: ff                     !! open forcing file
    integer, intent(in) :: k0                             !! first step (1-based)
    integer, intent(in) :: nsteps                         !! number of steps
    integer(int64), intent(in) :: ids(:)                  !! owned 1-based global ids
    real(real64), intent(out) :: forc(:, :, :)            !! (nforc, n_local, nsteps)
    character(len=:), allocatable, intent(out) :: message !! "" or the error
    real(real64), allocatable :: buf2(:, :), buf3(:, :, :)
    integer :: v, st, c, k, first, last, j0, j1, i, j
    message = ""
    if (size(ids) == 0) return
    if (k0 < 1 .or. k0 + nsteps - 1 > ff%ntime) then
      message = "forcing file '"//ff%path//"' has "//fmt_int(ff%ntime)//" steps from "// &
           date_string(ff%t_first)//"; the run needs steps "//fmt_int(k0)//" to "// &
           fmt_int(k0 + nsteps - 1)
      return
    end if
    first = int(minval(ids))
    last = int(maxval(ids))
    do v = 1, nforc
      if (.not. ff%gridded) then
        allocate (buf2(last - first + 1, nsteps))
        st = nf90_get_var(ff%ncid, ff%varid(v), buf2, start=[first, k0], &
             count=[last - first + 1, nsteps])
        if (st == nf90_noerr) then
          do k = 1, nsteps
            do c = 1, size(ids)
              forc(v, c, k) = buf2(ids(c) - first + 1, k)
            end do
          end do
        end if
        deallocate (buf2)
      else
        j0 = (first - 1) / ff%nx + 1
        j1 = (last - 1) / ff%nx + 1
        allocate (buf3(ff%nx, j1 - j0 + 1, nsteps))
        st = nf90_get_var(ff%ncid, ff%varid(v), buf3, start=[1, j0, k0], &
             count=[ff%nx, j1 - j0 + 1, nsteps])
        if (st == nf90_noerr) then
          do k = 1, nsteps
            do c = 1, size(ids)
              i = int(mod(ids(c) - 1, int(ff%nx, int64))) + 1
              j = int((ids(c) - 1) / ff%nx) + 1 - j0 + 1
              forc(v, c, k) = buf3(i, j, k)
            end do
          end do
        end if
        deallocate (buf3)
      end if
      if (st /= nf90_noerr) then
        message = "forcing file '"//ff%path//"': reading "//trim(forcing_names(v))// &
             " failed: "//trim(nf90_strerror(st))
        return
      end if
    end do
  end subroutine read_steps

  !> Close the file.
  subroutine close_forcing(ff)
    type(forcing_t), intent(inout) :: ff   !! the file
    integer :: st
    if (ff%ncid >= 0) st = nf90_close(ff%ncid)
    ff%ncid = -1
  end subroutine close_forcing

  logical function cell_mismatch(flat, flon, dlat, dlon)
    real(real64), intent(in) :: flat, flon, dlat, dlon
    real(real64) :: d
    d = modulo(flon - dlon + 180._real64, 360._real64) - 180._real64
    cell_mismatch = abs(flat - dlat) > 1.e-4_real64 .or. abs(d) > 1.e-4_real64
  end function cell_mismatch

  function latlon(clat, clon, k, gridded, ni) result(s)
    real(real64), intent(in) :: clat(:), clon(:)
    integer, intent(in) :: k, ni
    logical, intent(in) :: gridded
    character(len=:), allocatable :: s
    if (gridded) then
      s = ftoa(clat((k - 1) / ni + 1))//", "//ftoa(clon(mod(k - 1, ni) + 1))
    else
      s = ftoa(clat(k))//", "//ftoa(clon(k))
    end if
  end function latlon

  function ftoa(x) result(s)
    real(real64), intent(in) :: x
    character(len=:), allocatable :: s
    character(len=24) :: t
    write (t, '(f0.4)') x
    s = trim(t)
  end function ftoa

end module hmh_forcing
