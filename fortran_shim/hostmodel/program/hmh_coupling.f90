!> The host program's side of the landemu coupling: which fields landemu imports and
!! exports in this configuration, putting forcing means, soil moisture and temperature and
!! the interval's evaporation and net radiation, getting vegetation and PFT parameters.
!!
!! landemu_field_info decides everything: the host puts each forcing field (and H2OSOI,
!! TSOI, QFLX_EVAP, RNET) only if landemu imports it, and uses each vegetation field only if
!! landemu exports it; otherwise the host keeps its own defaults.
module hmh_coupling
  use, intrinsic :: iso_fortran_env, only: real64
  use landemu
  use hm_constants, only: nforc, nlevsoi, npft, nparam
  use hm_pft_params, only: param_names
  use hmh_forcing, only: forcing_names
  implicit none
  private

  integer, parameter, public :: n_vegfields = 9 + nparam
  !> exports the host can use, in this order: 9 vegetation fields then the 12 parameters
  !! (PCT_NAT_PFT, MONTHLY_LAI, MONTHLY_SAI, MONTHLY_HEIGHT_TOP and PCT_PFT have one level
  !! per PFT; PCT_PFT, natural and crop land units merged, is preferred to PCT_NAT_PFT)
  character(len=18), parameter, public :: veg_names(n_vegfields) = [character(len=18) :: &
       'PCT_NAT_PFT', 'MONTHLY_LAI', 'LAI', 'SAI', 'HTOP', 'HBOT', 'MONTHLY_SAI', &
       'MONTHLY_HEIGHT_TOP', 'PCT_PFT', param_names]
  integer, parameter, public :: iv_pct = 1, iv_mlai = 2, iv_lai = 3, iv_sai = 4, iv_htop = 5, &
       iv_hbot = 6, iv_msai = 7, iv_mhtop = 8, iv_pctall = 9, iv_param0 = 9
  integer, parameter :: per_pft(5) = [iv_pct, iv_mlai, iv_msai, iv_mhtop, iv_pctall]
  !> physics means of a coupling interval the host can put (after the interval's physics)
  character(len=9), parameter, public :: flux_names(2) = [character(len=9) :: 'QFLX_EVAP', 'RNET']

  !> What this run exchanges and the buffers it exchanges them in.
  type, public :: coupling_t
    logical :: active = .false.                     !! landemu is running
    logical :: put_forcing(nforc) = .false.         !! landemu imports FSDS ... PRECTmms
    logical :: put_h2osoi = .false.                 !! landemu imports H2OSOI
    logical :: put_tsoi = .false.                   !! landemu imports TSOI
    logical :: put_flux(2) = .false.                !! landemu imports QFLX_EVAP, RNET
    logical :: got(n_vegfields) = .false.           !! landemu exports the field
    integer :: nlev(n_vegfields) = 0                !! its number of levels
    real(real64), allocatable :: recv(:, :, :)      !! (n_local, maxlev, n_vegfields) last got
    real(real64), allocatable :: buf1(:)            !! (n_local) put buffer
    real(real64), allocatable :: bufsoi(:, :)       !! (n_local, nlevsoi) put buffer
  end type coupling_t

  public :: coupling_discover, coupling_put, coupling_put_fluxes, coupling_get

contains

  !> Ask landemu which fields it imports and exports; allocate the buffers.
  subroutine coupling_discover(cp, n_local, message)
    type(coupling_t), intent(inout) :: cp                  !! coupling state
    integer, intent(in) :: n_local                         !! owned columns
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: k, direction, nlev, ierr
    message = ""
    do k = 1, nforc
      call landemu_field_info(trim(forcing_names(k)), direction, nlev, ierr)
      if (ierr /= LANDEMU_OK) exit
      cp%put_forcing(k) = direction == LANDEMU_FIELD_IMPORT
    end do
    if (ierr == LANDEMU_OK) call landemu_field_info('H2OSOI', direction, nlev, ierr)
    if (ierr == LANDEMU_OK) cp%put_h2osoi = direction == LANDEMU_FIELD_IMPORT .and. nlev == nlevsoi
    if (ierr == LANDEMU_OK) call landemu_field_info('TSOI', direction, nlev, ierr)
    if (ierr == LANDEMU_OK) cp%put_tsoi = direction == LANDEMU_FIELD_IMPORT .and. nlev == nlevsoi
    do k = 1, size(flux_names)
      if (ierr /= LANDEMU_OK) exit
      call landemu_field_info(trim(flux_names(k)), direction, nlev, ierr)
      cp%put_flux(k) = direction == LANDEMU_FIELD_IMPORT
    end do
    do k = 1, n_vegfields
      if (ierr /= LANDEMU_OK) exit
      call landemu_field_info(trim(veg_names(k)), direction, nlev, ierr)
      cp%got(k) = direction == LANDEMU_FIELD_EXPORT
      cp%nlev(k) = nlev
      if (cp%got(k) .and. any(per_pft == k) .and. nlev /= npft) then
        message = "landemu exports "//trim(veg_names(k))//" with a level count other than 17"
        return
      end if
      if (cp%got(k) .and. .not. any(per_pft == k) .and. nlev /= 1) then
        message = "landemu exports "//trim(veg_names(k))//" with more than one level"
        return
      end if
    end do
    if (ierr /= LANDEMU_OK) then
      message = "landemu_field_info: "//landemu_last_error_message()
      return
    end if
    allocate (cp%recv(n_local, npft, n_vegfields), cp%buf1(n_local), cp%bufsoi(n_local, nlevsoi))
    cp%recv = 0
  end subroutine coupling_discover

  !> Put the interval means of the imported forcing, the soil moisture and temperature.
  subroutine coupling_put(cp, fmean, h2osoi, tsoi, message)
    type(coupling_t), intent(inout) :: cp                  !! coupling state
    real(real64), intent(in) :: fmean(:, :)                !! (nforc, n_local) interval means
    real(real64), intent(in) :: h2osoi(:, :)               !! (nlevsoi, n_local) soil water
    real(real64), intent(in) :: tsoi(:, :)                 !! (nlevsoi, n_local) soil temperature
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: k, ierr
    message = ""
    do k = 1, nforc
      if (.not. cp%put_forcing(k)) cycle
      cp%buf1 = fmean(k, :)
      call landemu_put(trim(forcing_names(k)), cp%buf1, ierr)
      if (ierr /= LANDEMU_OK) then
        message = "landemu_put("//trim(forcing_names(k))//"): "//landemu_last_error_message()
        return
      end if
    end do
    if (cp%put_h2osoi) then
      cp%bufsoi = transpose(h2osoi)
      call landemu_put('H2OSOI', cp%bufsoi, ierr)
      if (ierr /= LANDEMU_OK) then
        message = "landemu_put(H2OSOI): "//landemu_last_error_message()
        return
      end if
    end if
    if (cp%put_tsoi) then
      cp%bufsoi = transpose(tsoi)
      call landemu_put('TSOI', cp%bufsoi, ierr)
      if (ierr /= LANDEMU_OK) message = "landemu_put(TSOI): "//landemu_last_error_message()
    end if
  end subroutine coupling_put

  !> Put the means of QFLX_EVAP and RNET over the interval the physics has just run (landemu
  !! averages them with the next advance's other imports; its restart keeps them).
  subroutine coupling_put_fluxes(cp, fluxes, message)
    type(coupling_t), intent(inout) :: cp                  !! coupling state
    real(real64), intent(in) :: fluxes(:, :)               !! (2, n_local) QFLX_EVAP, RNET
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: k, ierr
    message = ""
    do k = 1, size(flux_names)
      if (.not. cp%put_flux(k)) cycle
      cp%buf1 = fluxes(k, :)
      call landemu_put(trim(flux_names(k)), cp%buf1, ierr)
      if (ierr /= LANDEMU_OK) then
        message = "landemu_put("//trim(flux_names(k))//"): "//landemu_last_error_message()
        return
      end if
    end do
  end subroutine coupling_put_fluxes

  !> Get every exported vegetation field and parameter into cp%recv.
  subroutine coupling_get(cp, message)
    type(coupling_t), intent(inout) :: cp                  !! coupling state
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: k, ierr
    real(real64), allocatable :: b2(:, :)
    message = ""
    do k = 1, n_vegfields
      if (.not. cp%got(k)) cycle
      if (cp%nlev(k) == 1) then
        call landemu_get(trim(veg_names(k)), cp%buf1, ierr)
        if (ierr == LANDEMU_OK) cp%recv(:, 1, k) = cp%buf1
      else
        allocate (b2(size(cp%buf1), npft))
        call landemu_get(trim(veg_names(k)), b2, ierr)
        if (ierr == LANDEMU_OK) cp%recv(:, :, k) = b2
        deallocate (b2)
      end if
      if (ierr /= LANDEMU_OK) then
        message = "landemu_get("//trim(veg_names(k))//"): "//landemu_last_error_message()
        return
      end if
    end do
  end subroutine coupling_get

end module hmh_coupling
